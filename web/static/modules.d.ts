// Text modules (wrangler.toml [[rules]] type = "Text"): the file's contents as a string.
declare module "*.css" {
  const text: string;
  export default text;
}
declare module "*.min.js" {
  const text: string;
  export default text;
}
declare module "*/outlay-ui.js" {
  const text: string;
  export default text;
}
declare module "*/cloud-upload.js" {
  const text: string;
  export default text;
}
