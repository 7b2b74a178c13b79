// The client's check of a file against its collection, in the server's
// words: each message here is the one internal/server's
// TestCollectionRulesRefuse reads from the real server for the same file.
import { describe, expect, test } from 'vitest';
import { allowsType, checkFile, type Collection } from '../src/uploader/collections';

const collections: Collection[] = [
  { name: 'default', allowedContentTypes: ['image/*', 'application/pdf', 'text/*'], maxFileSize: 10 << 20, maxFilesPerRequest: null, public: false },
  { name: 'avatars', allowedContentTypes: ['image/png', 'image/webp'], maxFileSize: 1024, maxFilesPerRequest: 1, public: true },
  { name: 'documents', allowedContentTypes: ['application/pdf', 'text/*'], maxFileSize: 10 << 20, maxFilesPerRequest: null, public: false },
];

describe('checkFile', () => {
  test.each([
    ['photos', { name: 'x.png', size: 1, type: 'image/png' }, 'collection', '"x.png" names collection "photos", which does not exist; the collections are default, avatars, documents'],
    ['avatars', { name: 'me.png', size: 1025, type: 'image/png' }, 'size', '"me.png" is 1025 bytes, over the maxFileSize of collection "avatars" (1024 bytes) by 1'],
    ['avatars', { name: 'me.jpg', size: 10, type: 'image/jpeg' }, 'contentType', '"me.jpg" is image/jpeg, which collection "avatars" does not allow (allowedContentTypes: image/png, image/webp)'],
    ['documents', { name: 'cat.png', size: 10, type: 'image/png' }, 'contentType', '"cat.png" is image/png, which collection "documents" does not allow (allowedContentTypes: application/pdf, text/*)'],
    [undefined, { name: 'a.zip', size: 10, type: 'application/zip' }, 'contentType', '"application/zip" is not allowed; allowed are image/*, application/pdf, text/*'],
    ['', { name: 'big.pdf', size: (10 << 20) + 5, type: 'application/pdf' }, 'size', '10485765 bytes is over the limit of 10485760 bytes by 5'],
  ])('%s refuses %o', (name, file, field, message) => {
    expect(checkFile(collections, name, file)).toEqual([{ field, message }]);
  });

  test('a file within the rules passes', () => {
    expect(checkFile(collections, 'avatars', { name: 'me.png', size: 1024, type: 'image/png' })).toEqual([]);
    expect(checkFile(collections, 'documents', { name: 'a.md', size: 1, type: 'text/markdown; charset=utf-8' })).toEqual([]);
  });

  test('two rules at once are both said', () => {
    expect(checkFile(collections, 'avatars', { name: 'me.gif', size: 2000, type: 'image/gif' }).map((p) => p.field)).toEqual(['size', 'contentType']);
  });

  test('types match as the server matches them', () => {
    expect(allowsType([], 'anything/at-all')).toBe(true);
    expect(allowsType(['*/*'], 'a/b')).toBe(true);
    expect(allowsType(['text/*'], 'TEXT/Plain')).toBe(true);
    expect(allowsType(['text/*'], 'textual/plain')).toBe(false);
    expect(allowsType(['application/octet-stream'], '')).toBe(true);
  });
});
