// Swagger UI over the gateway's merged document. `validatorUrl: null` keeps it from sending the
// document to swagger.io for validation: the page talks to this origin only.
window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "/api/v1/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
});
