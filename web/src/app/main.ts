// The demo app: drop or pick files, watch each upload, and browse, download
// and delete what was saved. Built on the upload client in src/uploader.
import './style.css';
import { createApi, Uploader, describe, loadCollections, subscribeFileEvents, DeleteFile, FileDownloadUrl, Files, type Collection, type PendingMultipart, type Upload } from '../uploader';
import type { FileOrder, FilesQuery, FileWhereInput } from '../gql/graphql';
import { apiURL, tokenField } from './session';

const $ = <T extends HTMLElement>(sel: string) => document.querySelector<T>(sel)!;

const token = tokenField($<HTMLInputElement>('#token'));
const api = createApi({ url: apiURL(), token, persisted: import.meta.env.PROD });
// ?multipart=BYTES sets the size from which files go in parts (tests use a small one).
const multipart = new URLSearchParams(location.search).get('multipart');
const uploader = new Uploader({ api, multipartThreshold: multipart ? Number(multipart) : undefined });

// Errors shown plainly, one at a time, until dismissed or replaced.
const banner = $('#error');
function showError(e: unknown) {
  banner.textContent = describe(e);
  banner.hidden = false;
}
banner.addEventListener('click', () => (banner.hidden = true));
window.addEventListener('offline', () => showError(new Error('You are offline: uploads will continue when the connection is back.')));
window.addEventListener('online', () => {
  banner.hidden = true;
  uploader.uploads.filter((u) => u.status === 'failed' && u.error?.code === 'NETWORK_ERROR').forEach((u) => uploader.resume(u));
});

// Picking and dropping.
const drop = $('#drop');
const picker = $<HTMLInputElement>('#picker');
// Uploads in parts left unfinished (a reload, a closed laptop): offered
// for resuming; the same file picked or dropped again carries on.
let unfinished: PendingMultipart[] = [];
const resumable = $('#resumable');
async function loadUnfinished() {
  try {
    unfinished = await uploader.pending();
  } catch (e) {
    unfinished = [];
    showError(e);
  }
  unfinished = unfinished.filter((p) => !uploader.uploads.some((u) => u.fileName === p.fileName));
  resumable.hidden = unfinished.length === 0;
  resumable.querySelector('ul')!.replaceChildren(
    ...unfinished.map((p) => {
      const li = document.createElement('li');
      li.dataset.name = p.originalName;
      li.textContent = `${p.originalName} (${sizeText(p.size)}, in ${p.partCount} parts)`;
      return li;
    }),
  );
}
// Where uploads go: a collection (its rules shown, and checked by the
// uploader before it asks), a folder, metadata pairs.
const collectionPick = $<HTMLSelectElement>('#collection');
const collectionFilter = $<HTMLSelectElement>('#filter-collection');
const folderField = $<HTMLInputElement>('#folder');
const metadataField = $<HTMLInputElement>('#metadata');
const rules = $('#rules');
let collections: Collection[] = [];
function rulesText(c: Collection) {
  const types = c.allowedContentTypes.length ? c.allowedContentTypes.join(', ') : 'any type';
  const per = c.maxFilesPerRequest != null ? `, ${c.maxFilesPerRequest} file${c.maxFilesPerRequest === 1 ? '' : 's'} at a time` : '';
  return `${c.name}: ${types}; up to ${sizeText(c.maxFileSize)} a file${per}; ${c.public ? 'public: files get a URL anyone can open' : 'private: downloads are signed'}`;
}
async function loadCollectionList() {
  try {
    collections = await loadCollections(api);
  } catch (e) {
    showError(e);
    return;
  }
  uploader.collections = collections;
  const picked = collectionPick.value;
  const option = (c: Collection) => {
    const o = document.createElement('option');
    o.value = c.name;
    o.textContent = c.name + (c.public ? ' (public)' : '');
    return o;
  };
  collectionPick.replaceChildren(...collections.map(option));
  if (collections.some((c) => c.name === picked)) collectionPick.value = picked;
  const filtered = collectionFilter.value;
  collectionFilter.replaceChildren(collectionFilter.options[0]!, ...collections.map(option));
  collectionFilter.value = filtered;
  showRules();
}
function showRules() {
  const c = collections.find((x) => x.name === collectionPick.value);
  rules.textContent = c ? rulesText(c) : '';
}
collectionPick.addEventListener('change', showRules);

/** "k=v, k2=v2" as pairs; a pair without "=" is refused here, the rest by the server. */
function parsePairs(text: string): Record<string, string> | Error {
  const out: Record<string, string> = {};
  for (const part of text.split(',').map((p) => p.trim()).filter(Boolean)) {
    const eq = part.indexOf('=');
    if (eq <= 0) return new Error(`Metadata "${part}" is not key=value.`);
    out[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
  }
  return out;
}

const addFiles = (files: FileList) => {
  const metadata = parsePairs(metadataField.value);
  if (metadata instanceof Error) {
    showError(metadata);
    return;
  }
  const folder = folderField.value.trim();
  uploader.add(files, unfinished, {
    collection: collectionPick.value || undefined,
    folder: folder || undefined,
    metadata: Object.keys(metadata).length ? metadata : undefined,
  });
  void loadUnfinished();
};

picker.addEventListener('change', () => {
  if (picker.files) addFiles(picker.files);
  picker.value = '';
});
drop.addEventListener('dragover', (e) => {
  e.preventDefault();
  drop.classList.add('over');
});
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (e) => {
  e.preventDefault();
  drop.classList.remove('over');
  if (e.dataTransfer?.files.length) addFiles(e.dataTransfer.files);
});

// One row per upload.
const list = $('#uploads');
const rows = new Map<number, HTMLElement>();
const sizeText = (n: number) =>
  n < 1024 ? `${n} B` : n < 1024 ** 2 ? `${(n / 1024).toFixed(1)} KiB` : n < 1024 ** 3 ? `${(n / 1024 ** 2).toFixed(1)} MiB` : `${(n / 1024 ** 3).toFixed(2)} GiB`;
const statusText: Record<Upload['status'], string> = {
  queued: 'Waiting',
  uploading: 'Uploading',
  paused: 'Paused',
  saving: 'Saving',
  done: 'Saved',
  failed: 'Failed',
  canceled: 'Canceled',
};

function renderUpload(u: Upload) {
  let row = rows.get(u.id);
  if (!row) {
    row = document.createElement('li');
    row.className = 'upload';
    row.dataset.name = u.file.name;
    row.innerHTML = `<div class="line"><span class="name"></span><span class="size"></span><span class="status"></span>
      <span class="actions"><button data-act="pause">Pause</button><button data-act="resume">Resume</button><button data-act="cancel">Cancel</button></span></div>
      <progress max="100" value="0"></progress><div class="problem"></div>`;
    row.querySelector('.name')!.textContent = u.file.name;
    row.querySelector('.size')!.textContent = sizeText(u.file.size);
    row.addEventListener('click', (e) => {
      const act = (e.target as HTMLElement).dataset.act;
      if (act === 'pause') uploader.pause(u);
      if (act === 'resume') uploader.resume(u);
      if (act === 'cancel') uploader.cancel(u);
    });
    list.prepend(row);
    rows.set(u.id, row);
  }
  const pct = u.file.size === 0 ? (u.status === 'done' ? 100 : 0) : Math.floor((100 * u.loaded) / u.file.size);
  const bar = row.querySelector('progress')!;
  bar.value = pct;
  row.dataset.status = u.status;
  row.dataset.progress = String(pct);
  row.querySelector('.status')!.textContent = u.status === 'uploading' ? `${pct}%` : statusText[u.status];
  row.querySelector('.problem')!.textContent = u.error ? describe(u.error) : '';
  row.querySelector<HTMLButtonElement>('[data-act=pause]')!.hidden = !['queued', 'uploading'].includes(u.status);
  // Resuming helps after a pause or a passing failure, not a refusal.
  row.querySelector<HTMLButtonElement>('[data-act=resume]')!.hidden = !(u.status === 'paused' || (u.status === 'failed' && !!u.error?.retryable));
  row.querySelector<HTMLButtonElement>('[data-act=cancel]')!.hidden = ['done', 'canceled', 'saving'].includes(u.status);
}
uploader.addEventListener('progress', (e) => renderUpload((e as CustomEvent<Upload>).detail));
uploader.addEventListener('change', (e) => {
  const u = (e as CustomEvent<Upload>).detail;
  renderUpload(u);
  if (u.status === 'done') void loadFiles();
  if (u.status === 'failed' && u.error) showError(u.error);
});

// The saved files: a page at a time, sorted, filtered by name.
const PAGE = 10;
const orders: Record<string, FileOrder> = {
  newest: { field: 'CREATED_AT', direction: 'DESC' },
  oldest: { field: 'CREATED_AT', direction: 'ASC' },
  'name-asc': { field: 'ORIGINAL_NAME', direction: 'ASC' },
  'name-desc': { field: 'ORIGINAL_NAME', direction: 'DESC' },
  largest: { field: 'SIZE', direction: 'DESC' },
  smallest: { field: 'SIZE', direction: 'ASC' },
};
const filter = $<HTMLInputElement>('#filter');
const metadataFilter = $<HTMLInputElement>('#filter-metadata');
const sort = $<HTMLSelectElement>('#sort');
const table = $('#files tbody');
const pageInfo = $('#page-info');
const prev = $<HTMLButtonElement>('#prev');
const next = $<HTMLButtonElement>('#next');
let page: { after?: string; before?: string } = {};
let current: FilesQuery['files'] | undefined;
let loads = 0;

async function loadFiles() {
  const name = filter.value.trim();
  const where: FileWhereInput = {};
  if (name) where.originalNameContainsFold = name;
  if (collectionFilter.value) where.collection = collectionFilter.value;
  const pairs = parsePairs(metadataFilter.value);
  if (pairs instanceof Error) {
    showError(pairs);
    return;
  }
  if (Object.keys(pairs).length) where.metadata = Object.entries(pairs).map(([key, value]) => ({ key, value }));
  const filtered = Object.keys(where).length > 0;
  const vars = {
    ...(page.before ? { last: PAGE, before: page.before } : { first: PAGE, after: page.after ?? null }),
    orderBy: orders[sort.value],
    where: filtered ? where : null,
  };
  // Saves, typing and clicks each reload the list: only the latest counts.
  const seq = ++loads;
  let files: FilesQuery['files'];
  try {
    files = (await api.query(Files, vars)).files;
  } catch (e) {
    if (seq === loads) showError(e);
    return;
  }
  if (seq !== loads) return;
  current = files;
  table.replaceChildren(
    ...(current.edges ?? []).flatMap((edge) => {
      const f = edge?.node;
      if (!f) return [];
      const tr = document.createElement('tr');
      tr.dataset.id = f.id;
      tr.dataset.name = f.originalName;
      tr.dataset.collection = f.collection;
      tr.innerHTML = `<td class="thumb"></td><td class="name"></td><td class="size"></td><td class="type"></td><td class="collection"></td><td class="meta"></td><td class="date"></td>
        <td class="actions"><button data-act="download">Download</button><button data-act="delete" class="danger">Delete</button></td>`;
      const nameCell = tr.querySelector('.name')!;
      if (f.folder) nameCell.append(Object.assign(document.createElement('span'), { className: 'folder', textContent: f.folder + '/' }));
      nameCell.append(f.originalName);
      // A public file's URL never changes and needs no signature: link it,
      // and show images from it.
      if (f.url) {
        nameCell.append(Object.assign(document.createElement('a'), { className: 'public', href: f.url, textContent: f.url, target: '_blank', rel: 'noopener' }));
        if (f.contentType.startsWith('image/')) {
          tr.querySelector('.thumb')!.append(Object.assign(document.createElement('img'), { src: f.url, alt: f.originalName, loading: 'lazy' }));
        }
      }
      tr.querySelector('.size')!.textContent = sizeText(f.size);
      tr.querySelector('.type')!.textContent = f.contentType;
      const collCell = tr.querySelector('.collection')!;
      collCell.textContent = f.collection;
      if (f.url) collCell.append(Object.assign(document.createElement('span'), { className: 'tag', textContent: 'public' }));
      tr.querySelector('.meta')!.append(
        ...Object.entries(f.metadata).map(([k, v]) => Object.assign(document.createElement('span'), { className: 'pair', textContent: `${k}=${v}` })),
      );
      tr.querySelector('.date')!.textContent = new Date(f.createdAt).toLocaleString();
      tr.addEventListener('click', (e) => {
        const act = (e.target as HTMLElement).dataset.act;
        if (act === 'download') void download(f.id);
        if (act === 'delete') void remove(f.id);
      });
      return [tr];
    }),
  );
  if (table.childElementCount === 0) table.innerHTML = `<tr><td colspan="8" class="empty">${filtered ? 'No file matches.' : 'No files yet: drop some above.'}</td></tr>`;
  pageInfo.textContent = `${current.totalCount} file${current.totalCount === 1 ? '' : 's'}`;
  prev.disabled = !current.pageInfo.hasPreviousPage && !page.after;
  next.disabled = !current.pageInfo.hasNextPage && !page.before;
}

async function download(id: string) {
  try {
    const { fileDownloadUrl } = await api.query(FileDownloadUrl, { id });
    // The URL names the file; the browser saves it under its original name.
    const a = document.createElement('a');
    a.href = fileDownloadUrl.url;
    a.rel = 'noopener';
    document.body.append(a);
    a.click();
    a.remove();
  } catch (e) {
    showError(e);
  }
}

async function remove(id: string) {
  try {
    await api.mutate(DeleteFile, { id });
    await loadFiles();
  } catch (e) {
    showError(e);
  }
}

let typing: ReturnType<typeof setTimeout> | undefined;
for (const field of [filter, metadataFilter]) {
  field.addEventListener('input', () => {
    clearTimeout(typing);
    typing = setTimeout(() => {
      page = {};
      void loadFiles();
    }, 250);
  });
}
collectionFilter.addEventListener('change', () => {
  page = {};
  void loadFiles();
});
sort.addEventListener('change', () => {
  page = {};
  void loadFiles();
});
next.addEventListener('click', () => {
  if (current?.pageInfo.endCursor) page = { after: current.pageInfo.endCursor };
  void loadFiles();
});
prev.addEventListener('click', () => {
  if (current?.pageInfo.startCursor) page = { before: current.pageInfo.startCursor };
  void loadFiles();
});

// Live: uploads and deletes made elsewhere (another tab, another device)
// reload the list; so does every (re)connection, since events may have been
// missed meanwhile. A burst of events reloads once.
const live = $('#live');
let reloading: ReturnType<typeof setTimeout> | undefined;
const reloadSoon = () => {
  clearTimeout(reloading);
  reloading = setTimeout(() => void loadFiles(), 100);
};
let stopEvents = () => {};
function followEvents() {
  stopEvents();
  stopEvents = subscribeFileEvents({
    url: apiURL(),
    token,
    onEvent: reloadSoon,
    onResync: reloadSoon,
    onStatus: (on) => {
      live.dataset.live = String(on);
      live.textContent = on ? 'Live' : 'Reconnecting…';
    },
    onError: (e) => {
      live.textContent = 'Not live';
      showError(e);
    },
  });
}

$('#token').addEventListener('change', () => {
  void loadFiles();
  void loadCollectionList();
  followEvents();
});
followEvents();

void loadCollectionList();
void loadFiles();
void loadUnfinished();
