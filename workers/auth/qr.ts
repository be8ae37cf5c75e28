// QR codes (ISO/IEC 18004) for TOTP enrolment, drawn on the server by `qrcode` as SVG and handed
// to the page as a data: URI (RFC 2397), so it is embedded as an <img> with no raw HTML. The
// otpauth:// URI it carries holds the shared secret: the image must not be cached or logged.
import { toString } from "qrcode";
import { toBase64, utf8 } from "../../shared/encoding.ts";

/** Level M recovers from about 15% damage: the usual setting for an on-screen code. */
const ERROR_CORRECTION = "M";
/** Rendered size in CSS pixels; the SVG scales cleanly if the page sizes it otherwise. */
const WIDTH_PX = 256;

/** `data:image/svg+xml;base64,...` of a QR code encoding `text`. */
export async function qrSvgDataUri(text: string): Promise<string> {
  const svg = await toString(text, { type: "svg", errorCorrectionLevel: ERROR_CORRECTION, width: WIDTH_PX });
  return `data:image/svg+xml;base64,${toBase64(utf8.encode(svg))}`;
}
