"use strict";
// The customer add page: show only the sections of the chosen type (Person or Business).
// A static file, not an inline script, so the admin can run under a strict CSP.
document.addEventListener("DOMContentLoaded", function () {
    const select = document.getElementById("id_type");
    if (!select || select.tagName !== "SELECT") {
        return; // the type is not a choice here
    }
    function show() {
        document.querySelectorAll("fieldset[class*='customer-type-']").forEach(function (fieldset) {
            const wanted = fieldset.classList.contains("customer-type-" + select.value);
            fieldset.hidden = !wanted;
        });
    }
    select.addEventListener("change", show);
    show();
});
