-- An import is read in parts, each a Workflow step that can be retried (docs/cloud.md "Imports",
-- resumable within a file). Each line row says which part of its import wrote it, so a retried
-- part deletes what its failed attempt wrote, and only that.
ALTER TABLE cloud_lines ADD COLUMN part INTEGER NOT NULL DEFAULT 0;
