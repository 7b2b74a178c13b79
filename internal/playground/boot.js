// Starts GraphiQL on the element #graphiql, whose data- attributes carry the
// server's settings. Served from the binary, as are React and GraphiQL.
(function () {
  var root = document.getElementById('graphiql');
  var endpoint = root.dataset.endpoint;
  var auth = root.dataset.auth === 'true';
  var query = [
    '# Your files, newest first: press Run (Ctrl-Enter).',
    '# Uploads: createUploadUrls, PUT the bytes,',
    '# then saveFiles (see the README).',
    'query Files {',
    '  files(first: 10, orderBy: { field: CREATED_AT, direction: DESC }) {',
    '    totalCount',
    '    edges {',
    '      node { id originalName size contentType createdAt }',
    '    }',
    '  }',
    '}',
    '',
  ].join('\n');
  var fetcher = GraphiQL.createFetcher({ url: new URL(endpoint, location.href).href });
  var props = {
    fetcher: fetcher,
    defaultQuery: query,
    // Headers are not kept in localStorage: they hold a token.
    shouldPersistHeaders: false,
  };
  if (auth) {
    props.isHeadersEditorEnabled = true;
    props.defaultHeaders = JSON.stringify({ Authorization: 'Bearer <paste your token here>' }, null, 2);
    props.defaultEditorToolsVisibility = 'headers';
  }
  ReactDOM.createRoot(root).render(React.createElement(GraphiQL, props));
})();
