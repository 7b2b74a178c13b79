// The demo app: drop or pick files, watch each upload, and browse, download
// and delete what was saved. Built on the upload client in src/uploader.
import './style.css';
import {
  createApi,
  Uploader,
  describe,
  loadCollections,
  subscribeFileEvents,
  DeleteFile,
  DeleteFiles,
  Folders,
  downloadLink,
  listFiles,
  thumbnailFor,
  UpdateFile,
  type Collection,
  type FilegraphError,
  type ListedFile,
  type PendingMultipart,
  type Upload,
} from '../uploader';
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
      <span class="actions"><button data-act="pause">Pause</button><button data-act="resume">Resume</button><button data-act="cancel">Cancel</button><button data-act="remove">Remove</button></span></div>
      <progress max="100" value="0"></progress><div class="problem"></div>`;
    row.querySelector('.name')!.textContent = u.file.name;
    row.querySelector('.size')!.textContent = sizeText(u.file.size);
    row.addEventListener('click', (e) => {
      const act = (e.target as HTMLElement).dataset.act;
      if (act === 'pause') uploader.pause(u);
      if (act === 'resume') uploader.resume(u);
      if (act === 'cancel') uploader.cancel(u);
      if (act === 'remove') {
        uploader.forget(u);
        row!.remove();
        rows.delete(u.id);
      }
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
  // A refusal (its collection's rules, say) cannot be canceled, only removed.
  const refused = u.status === 'failed' && !u.error?.retryable;
  row.querySelector<HTMLButtonElement>('[data-act=cancel]')!.hidden = refused || ['done', 'canceled', 'saving'].includes(u.status);
  row.querySelector<HTMLButtonElement>('[data-act=remove]')!.hidden = !(u.status === 'failed' || u.status === 'canceled');
}
uploader.addEventListener('progress', (e) => renderUpload((e as CustomEvent<Upload>).detail));
uploader.addEventListener('change', (e) => {
  const u = (e as CustomEvent<Upload>).detail;
  renderUpload(u);
  if (u.status === 'done') {
    void loadFiles();
    void loadFolders();
  }
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
let rescan: ReturnType<typeof setTimeout> | undefined;

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
  // Browsing: the files in the current folder; searching: in it and below.
  if (!filtered) where.folder = cwd;
  else if (cwd) where.folderHasPrefix = cwd;
  const vars = {
    ...(page.before ? { last: PAGE, before: page.before } : { first: PAGE, after: page.after ?? null }),
    orderBy: orders[sort.value],
    where,
  };
  // Saves, typing and clicks each reload the list: only the latest counts.
  const seq = ++loads;
  let files: FilesQuery['files'];
  let unavailable: Map<string, FilegraphError>;
  try {
    // Each file comes with its download link: no round trip per download.
    ({ files, unavailable } = await listFiles(api, vars));
  } catch (e) {
    if (seq === loads) showError(e);
    return;
  }
  if (seq !== loads) return;
  current = files;
  const shown = shownThumbs();
  table.replaceChildren(
    ...(current.edges ?? []).flatMap((edge) => {
      const f = edge?.node;
      if (!f) return [];
      const tr = document.createElement('tr');
      tr.dataset.id = f.id;
      tr.dataset.name = f.originalName;
      tr.dataset.collection = f.collection;
      tr.innerHTML = `<td class="pick"><input type="checkbox" aria-label="Select"></td><td class="thumb"></td><td class="name"></td><td class="size"></td><td class="type"></td><td class="collection"></td><td class="meta"></td><td class="date"></td>
        <td class="actions"><button data-act="download">Download</button><button data-act="delete" class="danger">Delete</button></td>`;
      const nameCell = tr.querySelector('.name')!;
      if (f.folder !== cwd) nameCell.append(Object.assign(document.createElement('span'), { className: 'folder', textContent: f.folder + '/' }));
      nameCell.append(Object.assign(document.createElement('span'), { className: 'title', textContent: f.originalName }));
      nameCell.append(Object.assign(document.createElement('button'), { className: 'rename', textContent: 'Rename', title: 'Rename' }));
      nameCell.querySelector('.rename')!.setAttribute('data-act', 'rename');
      const box = tr.querySelector<HTMLInputElement>('.pick input')!;
      box.checked = selected.has(f.id);
      box.addEventListener('change', () => {
        if (box.checked) selected.add(f.id);
        else selected.delete(f.id);
        showBulk();
      });
      // A public file's URL never changes and needs no signature: link it.
      if (f.url) nameCell.append(Object.assign(document.createElement('a'), { className: 'public', href: f.url, textContent: f.url, target: '_blank', rel: 'noopener' }));
      tr.querySelector('.thumb')!.append(...thumbCell(f, shown));
      if (f.status !== 'READY') {
        // The virus scan holds it, or found it infected.
        const badge = document.createElement('span');
        badge.className = `badge ${f.status.toLowerCase()}`;
        badge.textContent = f.status === 'INFECTED' && f.scanResult ? `infected: ${f.scanResult}` : f.status.toLowerCase();
        nameCell.append(' ', badge);
        tr.querySelector<HTMLButtonElement>('[data-act="download"]')!.disabled = f.status !== 'UNSCANNED';
      }
      const why = unavailable.get(f.id);
      if (why) tr.querySelector<HTMLButtonElement>('[data-act="download"]')!.title = describe(why);
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
        if (act === 'download') void download(f);
        if (act === 'delete') void remove(f.id);
        if (act === 'rename') rename(tr, f.id, f.originalName);
      });
      return [tr];
    }),
  );
  if (table.childElementCount === 0) table.innerHTML = `<tr><td colspan="9" class="empty">${filtered ? 'No file matches.' : cwd || folderList.childElementCount ? 'No files in this folder.' : 'No files yet: drop some above.'}</td></tr>`;
  pageInfo.textContent = `${current.totalCount} file${current.totalCount === 1 ? '' : 's'}`;
  const listed = new Set((current.edges ?? []).map((e) => e?.node?.id));
  for (const id of selected) if (!listed.has(id)) selected.delete(id);
  showBulk();
  // Files being scanned change status soon, and saved images get their
  // thumbnails soon (VARIANTS_READY reloads the list too; this covers a
  // page that is not live): look again until none is, a thumbnail awaited
  // at most THUMB_LOOKS times (an image that cannot be decoded, or a
  // collection without variants, never gets one).
  clearTimeout(rescan);
  const nodes = (current.edges ?? []).flatMap((e) => (e?.node ? [e.node] : []));
  const awaited = nodes.filter((f) => awaitsThumb(f) && (thumbLooks.get(f.id) ?? 0) < THUMB_LOOKS);
  for (const f of awaited) thumbLooks.set(f.id, (thumbLooks.get(f.id) ?? 0) + 1);
  if (awaited.length || nodes.some((f) => f.status === 'SCANNING')) rescan = setTimeout(() => void loadFiles(), 2000);
  prev.disabled = !current.pageInfo.hasPreviousPage && !page.after;
  next.disabled = !current.pageInfo.hasNextPage && !page.before;
}

// The list's thumbnails: the file's thumb variant (made after the save by
// the server's variants job), its width and height given so the row does
// not move when it loads; a public image without one yet shows from its
// URL; a private one a placeholder until its thumb is made.
const THUMB_LOOKS = 15;
const thumbLooks = new Map<string, number>();
const isImage = (f: ListedFile) => f.contentType.startsWith('image/');
const awaitsThumb = (f: ListedFile) => isImage(f) && f.status === 'READY' && !f.url && f.variants.length === 0;
// A thumbnail the list already shows stays as it is: every answer signs its
// URL anew, and a new src would fetch the same picture again and flicker.
// A variant never changes once made, so the file and the variant's name say
// it is the same picture.
function shownThumbs(): Map<string, HTMLImageElement> {
  const shown = new Map<string, HTMLImageElement>();
  for (const img of table.querySelectorAll<HTMLImageElement>('tr[data-id] td.thumb img.variant')) {
    const id = img.closest('tr')?.dataset.id;
    if (id && img.complete && img.naturalWidth > 0) shown.set(`${id}/${img.dataset.variant}`, img);
  }
  return shown;
}
function thumbCell(f: ListedFile, shown: Map<string, HTMLImageElement>): HTMLElement[] {
  const v = thumbnailFor(f, 'thumb') ?? thumbnailFor(f, { width: 80, height: 80 });
  const kept = v && shown.get(`${f.id}/${v.name}`);
  if (kept) {
    kept.alt = f.originalName; // renamed meanwhile, perhaps
    return [kept];
  }
  if (v) {
    const img = Object.assign(document.createElement('img'), { src: v.url, alt: f.originalName, width: v.width, height: v.height, loading: 'lazy', className: 'variant' });
    img.dataset.variant = v.name;
    return [img];
  }
  if (!isImage(f)) return [];
  if (f.url) return [Object.assign(document.createElement('img'), { src: f.url, alt: f.originalName, loading: 'lazy' })];
  if (f.status !== 'READY') return [];
  const ph = Object.assign(document.createElement('span'), { className: 'placeholder', title: 'Thumbnail on its way' });
  ph.setAttribute('role', 'img');
  ph.setAttribute('aria-label', `${f.originalName}: thumbnail on its way`);
  return [ph];
}

async function download(f: ListedFile) {
  try {
    // The link the list brought, or a fresh one once it has expired.
    const url = await downloadLink(api, f);
    // The URL names the file; the browser saves it under its original name.
    const a = document.createElement('a');
    a.href = url;
    a.rel = 'noopener';
    document.body.append(a);
    a.click();
    a.remove();
  } catch (e) {
    showError(e);
  }
}

// Folders: breadcrumbs to the current one, its child folders with their
// counts, a new folder (which exists once a file is in it), inline rename,
// and selected files moved or deleted together.
let cwd = '';
let newFolder: string | null = null;
const selected = new Set<string>();
const crumbs = $('#crumbs');
const folderList = $('#folders');
const bulk = $('#bulk');
const selectAll = $<HTMLInputElement>('#select-all');

function navigate(path: string) {
  cwd = path;
  folderField.value = path;
  if (newFolder !== null && !newFolder.startsWith(path)) newFolder = null;
  page = {};
  selected.clear();
  renderCrumbs();
  void loadFiles();
  void loadFolders();
}

function renderCrumbs() {
  const parts = cwd ? cwd.split('/') : [];
  const link = (label: string, path: string, here: boolean) => {
    const el = Object.assign(document.createElement(here ? 'span' : 'a'), { className: here ? 'here' : '', textContent: label });
    el.dataset.path = path;
    if (!here) el.addEventListener('click', () => navigate(path));
    return el;
  };
  const out: HTMLElement[] = [link('All files', '', parts.length === 0)];
  parts.forEach((name, i) => {
    out.push(Object.assign(document.createElement('span'), { className: 'sep', textContent: '/' }));
    out.push(link(name, parts.slice(0, i + 1).join('/'), i === parts.length - 1));
  });
  crumbs.replaceChildren(...out);
}

let folderLoads = 0;
async function loadFolders() {
  const seq = ++folderLoads;
  let folders;
  try {
    folders = (await api.query(Folders, { parent: cwd, collection: collectionFilter.value || null })).folders;
  } catch (e) {
    if (seq === folderLoads) showError(e);
    return;
  }
  if (seq !== folderLoads) return;
  const items = folders.map((f) => {
    const li = document.createElement('li');
    li.dataset.path = f.path;
    li.append(f.name, Object.assign(document.createElement('span'), { className: 'n', textContent: String(f.fileCount) }));
    li.addEventListener('click', () => navigate(f.path));
    return li;
  });
  // A new folder has no files yet: shown until one is uploaded or moved in.
  if (newFolder !== null && newFolder.startsWith(cwd ? cwd + '/' : '') && !newFolder.slice(cwd ? cwd.length + 1 : 0).includes('/') && !folders.some((f) => f.path === newFolder)) {
    const path = newFolder;
    const li = Object.assign(document.createElement('li'), { className: 'empty-new', title: 'Empty until a file is uploaded or moved here' });
    li.dataset.path = path;
    li.append(path.split('/').pop()!, Object.assign(document.createElement('span'), { className: 'n', textContent: 'new' }));
    li.style.cursor = 'pointer';
    li.addEventListener('click', () => navigate(path));
    items.push(li);
  }
  folderList.replaceChildren(...items);
}

const newFolderForm = $('#new-folder-form');
const newFolderName = $<HTMLInputElement>('#new-folder-name');
$('#new-folder').addEventListener('click', () => {
  newFolderForm.hidden = false;
  newFolderName.focus();
});
function createFolder() {
  const name = newFolderName.value.trim();
  if (!name) return;
  if (name.includes('/')) {
    showError(new Error('A folder name cannot contain "/".'));
    return;
  }
  newFolder = cwd ? `${cwd}/${name}` : name;
  newFolderName.value = '';
  newFolderForm.hidden = true;
  void loadFolders();
}
$('#new-folder-ok').addEventListener('click', createFolder);
newFolderName.addEventListener('keydown', (e) => {
  if (e.key === 'Enter') createFolder();
  if (e.key === 'Escape') newFolderForm.hidden = true;
});

/** Turns a row's name into a field: Enter renames, Escape (or leaving it) keeps the name. */
function rename(tr: HTMLElement, id: string, name: string) {
  const title = tr.querySelector<HTMLElement>('.name .title')!;
  const field = Object.assign(document.createElement('input'), { className: 'renaming', value: name });
  field.setAttribute('aria-label', 'New name');
  title.replaceWith(field);
  field.focus();
  field.select();
  let done = false;
  const finish = async (save: boolean) => {
    if (done) return;
    done = true;
    const next = field.value.trim();
    if (save && next && next !== name) {
      try {
        await api.mutate(UpdateFile, { id, input: { originalName: next } });
      } catch (e) {
        showError(e);
      }
    }
    await loadFiles();
  };
  field.addEventListener('keydown', (e) => {
    if (e.key === 'Enter') void finish(true);
    if (e.key === 'Escape') void finish(false);
  });
  field.addEventListener('blur', () => void finish(false));
}

function showBulk() {
  bulk.hidden = selected.size === 0;
  $('#bulk-count').textContent = `${selected.size} selected`;
  const boxes = [...table.querySelectorAll<HTMLInputElement>('.pick input')];
  selectAll.checked = boxes.length > 0 && boxes.every((b) => b.checked);
}
selectAll.addEventListener('change', () => {
  for (const tr of table.querySelectorAll<HTMLElement>('tr[data-id]')) {
    const box = tr.querySelector<HTMLInputElement>('.pick input')!;
    box.checked = selectAll.checked;
    if (selectAll.checked) selected.add(tr.dataset.id!);
    else selected.delete(tr.dataset.id!);
  }
  showBulk();
});
$('#bulk-delete').addEventListener('click', async () => {
  try {
    await api.mutate(DeleteFiles, { ids: [...selected] });
  } catch (e) {
    showError(e);
  }
  selected.clear();
  await Promise.all([loadFiles(), loadFolders()]);
});
$('#bulk-move').addEventListener('click', async () => {
  const folder = $<HTMLInputElement>('#bulk-folder').value.trim();
  try {
    for (const id of selected) await api.mutate(UpdateFile, { id, input: { folder } });
  } catch (e) {
    showError(e);
  }
  selected.clear();
  await Promise.all([loadFiles(), loadFolders()]);
});

async function remove(id: string) {
  try {
    await api.mutate(DeleteFile, { id });
    await Promise.all([loadFiles(), loadFolders()]);
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
  void loadFolders();
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
  reloading = setTimeout(() => {
    void loadFiles();
    void loadFolders();
  }, 100);
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
  void loadFolders();
  void loadCollectionList();
  followEvents();
});
followEvents();

void loadCollectionList();
renderCrumbs();
void loadFiles();
void loadFolders();
void loadUnfinished();
