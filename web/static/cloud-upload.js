// The cloud page's upload form with JavaScript on (served from /static like outlay-ui.js; the page
// works without it): any size of file, sent as a multipart upload to the dashboard's routes (the
// session cookie and the form's CSRF token as a header, like htmx's posts): ask for the parts, PUT
// each slice of the file, then complete. Without it the form posts the file itself (up to 100 MiB).
document.addEventListener("submit", (event) => {
  const form = event.target instanceof HTMLFormElement ? event.target : null;
  if (!form || !form.hasAttribute("data-cloud-upload") || event.defaultPrevented) return;
  const input = form.querySelector('input[type="file"]');
  const file = input && input.files ? input.files[0] : null;
  if (!file || !window.fetch || !file.slice) return;
  event.preventDefault();
  void upload(form, file);
});

async function upload(form, file) {
  const status = form.querySelector("#cloud-upload-status");
  const bar = form.querySelector("#cloud-upload-progress");
  const button = form.querySelector('button[type="submit"]');
  const csrf = form.querySelector('input[name="_csrf"]').value;
  const say = (text) => {
    if (status) status.textContent = text;
  };
  const send = async (url, init) => {
    const res = await fetch(url, {
      ...init,
      credentials: "same-origin",
      headers: { ...init.headers, "x-csrf-token": csrf },
    });
    const body = await res.json().catch(() => ({}));
    if (!res.ok) throw new Error((body.error && body.error.message) || `The upload was refused (${res.status}).`);
    return body;
  };
  if (button) button.disabled = true;
  try {
    say(`Starting the upload of ${file.name}…`);
    const started = await send("/cloud/uploads", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ size: String(file.size), file_name: file.name }).toString(),
    });
    if (bar) {
      bar.max = file.size;
      bar.value = 0;
      bar.hidden = false;
    }
    let offset = 0;
    let sent = 0;
    for (const part of started.parts) {
      const slice = file.slice(offset, offset + part.size);
      offset += part.size;
      await send(part.url, { method: "PUT", headers: { "content-type": "application/octet-stream" }, body: slice });
      sent += part.size;
      if (bar) bar.value = sent;
      say(`Sent ${Math.floor((sent * 100) / file.size)}% (part ${part.part_number} of ${started.parts.length}).`);
    }
    await send(started.complete_url, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "",
    });
    say("Uploaded: the import has started.");
    window.location.assign("/cloud?uploaded=1");
  } catch (error) {
    say(error instanceof Error ? error.message : "The upload failed.");
    if (button) button.disabled = false;
  }
}
