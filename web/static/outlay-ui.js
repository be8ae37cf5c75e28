// Outlay's own script (served from /static like htmx; the CSP allows no inline script). Pages work
// without it; it only adds conveniences: copy buttons.
document.addEventListener("click", (event) => {
  const button = event.target instanceof Element ? event.target.closest("[data-copy]") : null;
  if (!button) return;
  const source = document.querySelector(button.getAttribute("data-copy") ?? "");
  if (!source) return;
  navigator.clipboard.writeText((source.textContent ?? "").trim()).then(
    () => {
      button.textContent = "Copied";
    },
    () => {
      button.textContent = "Select the key and copy it";
    },
  );
});

// Forms marked data-submit-once (create a key, rotate a key): the submit button is disabled once
// the form is sent, so a double click sends it once. The server does not rely on this: a
// rotation form carries its own id and a second send of it changes nothing.
document.addEventListener("submit", (event) => {
  const form = event.target instanceof HTMLFormElement ? event.target : null;
  if (!form || !form.hasAttribute("data-submit-once") || event.defaultPrevented) return;
  // After the browser has read the form's data (a disabled button's value would be left out).
  setTimeout(() => {
    for (const button of form.querySelectorAll('button[type="submit"], button:not([type])')) {
      button.disabled = true;
      button.setAttribute("aria-disabled", "true");
    }
  }, 0);
});
// Back to a page kept in the browser's cache: its forms can be sent again.
window.addEventListener("pageshow", (event) => {
  if (!event.persisted) return;
  for (const button of document.querySelectorAll("form[data-submit-once] button[aria-disabled]")) {
    button.disabled = false;
    button.removeAttribute("aria-disabled");
  }
});
