-- Key rotation (issue #5): a key keeps its id and prefix across rotations, so the list tells its
-- secrets apart by a hint (the secret's last four characters, 20 of its 160 bits), and shows the
-- previous secret's hint and until when it is accepted. No secret or hash is stored here.
ALTER TABLE api_keys ADD COLUMN secret_hint TEXT;
ALTER TABLE api_keys ADD COLUMN rotated_at INTEGER;
ALTER TABLE api_keys ADD COLUMN previous_hint TEXT;
ALTER TABLE api_keys ADD COLUMN previous_until INTEGER;
