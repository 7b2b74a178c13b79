// Where the API is and who is calling: shared by the demo's pages.

/** The GraphQL endpoint: ?api=URL, else /query on the page's own server. */
export function apiURL(): string {
  return new URLSearchParams(location.search).get('api') ?? new URL('/query', location.href).href;
}

/**
 * Ties a token input to sessionStorage (kept for the tab, gone when it
 * closes) and returns a getter for the current token.
 */
export function tokenField(input: HTMLInputElement): () => string | null {
  const key = 'filegraph.token';
  input.value = sessionStorage.getItem(key) ?? new URLSearchParams(location.search).get('token') ?? '';
  input.addEventListener('change', () => sessionStorage.setItem(key, input.value.trim()));
  return () => input.value.trim() || null;
}
