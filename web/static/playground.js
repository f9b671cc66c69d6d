// Starts GraphiQL with the endpoint, headers and first query that the server
// put in the page's wintro-playground meta tag. The page's Content-Security-Policy
// forbids inline scripts, so this file and the vendored builds are all that runs.
(function () {
  'use strict';

  const meta = document.querySelector('meta[name="wintro-playground"]');
  const config = JSON.parse(meta.content);

  // GraphiQL's dialogs insert <style> elements (react-remove-scroll), tagged
  // with the global __webpack_nonce__ when it is set. The CSP allows this
  // response's nonce, which the browser exposes only as the .nonce property.
  window.__webpack_nonce__ = document.querySelector('meta[name="csp-nonce"]').nonce;

  const root = ReactDOM.createRoot(document.getElementById('graphiql'));
  root.render(
    React.createElement(GraphiQL, {
      fetcher: GraphiQL.createFetcher({ url: config.endpoint }),
      headers: config.headers,
      defaultQuery: config.defaultQuery,
      defaultEditorToolsVisibility: 'headers',
      shouldPersistHeaders: false,
    }),
  );
})();
