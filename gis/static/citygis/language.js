// The language switch (gis/language_form.html) takes effect as soon as a language is picked; the
// button stays for a browser without script.
for (const form of document.querySelectorAll("form.language")) {
  form.querySelector("button").hidden = true;
  form.querySelector("select").addEventListener("change", () => form.submit());
}
