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
