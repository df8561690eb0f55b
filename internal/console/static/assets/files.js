// The files (fs9) browser: POST .../fs-connect for a token, then the fs9
// WebSocket on this origin's /fs9 (the CSP allows no other) to list,
// upload, preview, download, make folders and remove. A connection that
// ended (fs9 closes idle ones after 300 s) is made again on the next action.

import { api, dbPath } from './api.js';
import { h, replace, field } from './dom.js';
import { announce, errorNotice, notice, section, table, form, confirmDanger, fmtBytes, timeCell, busy } from './ui.js';
import { FS9, sha256Hex } from './fs9.js';

const PREVIEW_MAX = 256 << 10; // larger files are downloaded, not shown
const MAX_FILE = 100 << 20; // FS9.md: 100 MiB per file through streaming

function join(dir, name) {
  return `${dir.replace(/\/+$/, '')}/${name}`;
}

const baseName = (p) => p.split('/').pop();

/** text returns bytes as UTF-8 text, or null when they are not. */
function text(bytes) {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return null;
  }
}

function hexHead(bytes, n) {
  return Array.from(bytes.subarray(0, n), (b) => b.toString(16).padStart(2, '0')).join(' ');
}

function progressNotice(what, done, total) {
  return notice('info', h('div', { class: 'progress-row' },
    h('span', {}, `${what}: ${fmtBytes(done)} of ${fmtBytes(total)}`),
    h('progress', { max: String(total || 1), value: String(done), 'aria-label': what })));
}

export async function renderFiles(ctx, db) {
  const { main } = ctx;
  replace(main, h('p', { class: 'muted' }, 'Connecting to the file service…'));

  let fs = null;
  // connect gets a fresh connect token and opens the socket; an ApiError
  // (the server lacks fs-connect) or an FS9Error is the caller's to show.
  const connect = async () => {
    const conn = await api('POST', dbPath(db.id, '/fs-connect'), {}, { signal: ctx.signal });
    const c = await FS9.connect(conn);
    if (!ctx.live) {
      c.close();
      throw new DOMException('left the page', 'AbortError');
    }
    fs = c;
    return c;
  };
  const client = async () => (fs && fs.usable ? fs : connect());
  ctx.onCleanup(() => fs && fs.close());

  try {
    await connect();
  } catch (e) {
    if (e.name === 'AbortError' || !ctx.live) return;
    replace(main, errorNotice(e, 'Files'));
    return;
  }

  let cwd = '/';
  const crumbs = h('nav', { class: 'crumbs', 'aria-label': 'Current folder' });
  const listEl = h('div', { id: 'files-list', 'aria-live': 'polite' });
  const out = h('div', { id: 'files-result' });
  const preview = h('div', { id: 'files-preview' });
  const show = (kind, ...children) => replace(out, notice(kind, ...children));

  const upload = h('input', { type: 'file', multiple: true, id: 'files-upload' });
  const uploadBtn = h('button', { type: 'button', id: 'files-upload-button' }, 'Upload');
  uploadBtn.addEventListener('click', () => busy(uploadBtn, async () => {
    const files = Array.from(upload.files || []);
    if (!files.length) {
      show('warn', 'Choose one or more files first.');
      return;
    }
    const tooLarge = files.find((f) => f.size > MAX_FILE);
    if (tooLarge) {
      show('error', `${tooLarge.name} is ${fmtBytes(tooLarge.size)}: files are limited to ${fmtBytes(MAX_FILE)}.`);
      return;
    }
    for (const f of files) {
      const path = join(cwd, f.name);
      replace(out, progressNotice(`Uploading ${f.name}`, 0, f.size));
      try {
        const bytes = new Uint8Array(await f.arrayBuffer());
        const c = await client();
        await c.writeFile(path, bytes, (done, total) => {
          if (ctx.live) replace(out, progressNotice(`Uploading ${f.name}`, done, total));
        });
      } catch (e) {
        if (!ctx.live) return;
        show('error', `Upload of ${f.name} failed: ${e.message}`);
        await load();
        return;
      }
    }
    if (!ctx.live) return;
    upload.value = '';
    show('ok', `Uploaded ${files.map((f) => `${f.name} (${fmtBytes(f.size)})`).join(', ')}.`);
    await load();
  }));

  const dir = field('New folder', { autocomplete: 'off', spellcheck: 'false', required: true, pattern: '[^\\/]+', id: 'files-new-folder' });
  const mk = form({ class: 'row wrap align-end', 'aria-label': 'Make a folder' }, [dir.wrap, h('button', { type: 'submit', class: 'secondary', id: 'files-mkdir' }, 'Create folder')], async () => {
    const name = dir.input.value.trim();
    try {
      await (await client()).mkdir(join(cwd, name));
    } catch (e) {
      show('error', `Create folder ${name}: ${e.message}`);
      return false;
    }
    show('ok', `Created folder ${name}.`);
    await load();
    return true;
  });

  // read fetches a file with progress shown; null when it failed (shown).
  const read = async (entry, verb) => {
    try {
      const c = await client();
      const bytes = await c.readFile(entry.path, (done, total) => {
        if (ctx.live && total >= 1 << 20) replace(out, progressNotice(`${verb} ${baseName(entry.path)}`, done, total));
      });
      return bytes;
    } catch (e) {
      if (ctx.live) show('error', `${verb} ${entry.path} failed: ${e.message}`);
      return null;
    }
  };

  const download = async (entry) => {
    const bytes = await read(entry, 'Downloading');
    if (!bytes || !ctx.live) return;
    const url = URL.createObjectURL(new Blob([bytes], { type: 'application/octet-stream' }));
    const a = h('a', { href: url, download: baseName(entry.path), hidden: true });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
    const sum = await sha256Hex(bytes);
    show('ok', `Downloaded ${entry.path}: ${fmtBytes(bytes.length)}, checksum verified `,
      h('code', { class: 'wrap-anywhere', 'data-testid': 'sha256' }, `sha256:${sum}`));
    announce(`Downloaded ${entry.path}`);
  };

  const view = async (entry) => {
    const bytes = await read(entry, 'Reading');
    if (!bytes || !ctx.live) return;
    const t = text(bytes);
    replace(preview, section(`Preview of ${entry.path}`,
      h('p', { class: 'muted' }, `${fmtBytes(bytes.length)}${t === null ? ', not UTF-8 text: the first bytes in hex' : ''}`),
      h('pre', { class: 'logs', tabindex: '0', 'aria-label': `Contents of ${entry.path}`, 'data-testid': 'preview' },
        t === null ? hexHead(bytes, 512) : t),
      h('div', { class: 'row end' }, h('button', { type: 'button', class: 'secondary small', onClick: () => replace(preview) }, 'Close preview'))));
    preview.scrollIntoView({ block: 'nearest' });
  };

  const remove = async (entry) => {
    const isDir = entry.type === 'dir';
    if (!await confirmDanger({ title: `Delete ${entry.path}?`, text: isDir ? 'The folder and everything in it is removed.' : 'The file is removed.' })) return;
    try {
      await (await client()).rm(entry.path, isDir);
    } catch (e) {
      show('error', `Delete ${entry.path} failed: ${e.message}`);
      return;
    }
    replace(preview);
    show('ok', `Deleted ${entry.path}.`);
    announce(`Deleted ${entry.path}`);
    await load();
  };

  const load = async () => {
    const parts = cwd.split('/').filter(Boolean);
    replace(crumbs, h('button', { type: 'button', class: 'link', onClick: () => go('/') }, '/'),
      parts.map((p, i) => [h('span', { 'aria-hidden': 'true' }, ' › '),
        h('button', { type: 'button', class: 'link', 'aria-current': i === parts.length - 1 ? 'location' : null, onClick: () => go(`/${parts.slice(0, i + 1).join('/')}`) }, p)]));
    let entries;
    try {
      entries = (await (await client()).readdir(cwd)).entries || [];
    } catch (e) {
      if (ctx.live) replace(listEl, errorNotice(e, `Listing ${cwd}`));
      return;
    }
    if (!ctx.live) return;
    entries.sort((a, b) => (b.type === 'dir') - (a.type === 'dir') || a.path.localeCompare(b.path));
    replace(listEl, table([
      { label: 'Name', cell: (e) => (e.type === 'dir'
        ? h('button', { type: 'button', class: 'link', onClick: () => go(e.path) }, `${baseName(e.path)}/`)
        : h('span', {}, baseName(e.path), e.type === 'symlink' ? ' →' : '')) },
      { label: 'Size', cell: (e) => (e.type === 'dir' ? '—' : h('span', { title: `${e.size} bytes` }, fmtBytes(e.size))), class: 'num' },
      { label: 'Mode', cell: (e) => h('code', {}, (Number(e.mode) & 0o7777).toString(8).padStart(4, '0')), class: 'hide-narrow' },
      { label: 'Modified', cell: (e) => timeCell(e.mtime), class: 'hide-narrow' },
      { label: 'Actions', cell: (e) => h('div', { class: 'row wrap actions' },
        e.type === 'file' && e.size <= PREVIEW_MAX ? h('button', { type: 'button', class: 'secondary small', onClick: () => view(e), 'aria-label': `Preview ${e.path}` }, 'Preview') : null,
        e.type === 'file' ? h('button', { type: 'button', class: 'secondary small', onClick: () => download(e), 'aria-label': `Download ${e.path}` }, 'Download') : null,
        h('button', { type: 'button', class: 'danger small', onClick: () => remove(e), 'aria-label': `Delete ${e.path}` }, 'Delete')) },
    ], entries, { label: `Files in ${cwd}`, empty: 'This folder is empty.' }));
    for (const [i, tr] of Array.from(listEl.querySelectorAll('tbody tr')).entries()) tr.dataset.path = entries[i].path;
  };
  const go = (path) => {
    cwd = path || '/';
    replace(preview);
    load();
  };

  replace(main,
    section('Files', crumbs,
      h('div', { class: 'stack' },
        h('div', { class: 'row wrap align-end' },
          h('div', { class: 'field' }, h('label', { for: 'files-upload' }, 'Upload to this folder'), upload), uploadBtn),
        mk),
      out, listEl),
    preview);
  await load();
}
