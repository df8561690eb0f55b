// The files (fs9) browser: POST .../fs-connect for a token, then the fs9
// WebSocket on this origin's /fs9 (the CSP allows no other) to list,
// upload, download, make directories and remove.

import { api, dbPath } from './api.js';
import { h, replace, field } from './dom.js';
import { announce, errorNotice, notice, section, table, form, confirmDanger, fmtBytes, timeCell, busy } from './ui.js';
import { FS9 } from './fs9.js';

function join(dir, name) {
  return `${dir.replace(/\/+$/, '')}/${name}`;
}

export async function renderFiles(ctx, db) {
  const { main } = ctx;
  replace(main, h('p', { class: 'muted' }, 'Connecting to the file service…'));
  let conn;
  try {
    conn = await api('POST', dbPath(db.id, '/fs-connect'), {}, { signal: ctx.signal });
  } catch (e) {
    if (e.name === 'AbortError') return;
    replace(main, errorNotice(e, 'Files'));
    return;
  }
  let fs;
  try {
    fs = await FS9.connect(conn);
  } catch (e) {
    if (!ctx.live) return;
    replace(main, notice('error', `Files: ${e.message}`));
    return;
  }
  if (!ctx.live) {
    fs.close();
    return;
  }
  ctx.onCleanup(() => fs.close());

  let cwd = '/';
  const crumbs = h('nav', { class: 'crumbs', 'aria-label': 'Current folder' });
  const listEl = h('div', { id: 'files-list', 'aria-live': 'polite' });
  const out = h('div', {});
  const upload = h('input', { type: 'file', multiple: true, id: 'files-upload' });
  const uploadBtn = h('button', { type: 'button' }, 'Upload');
  uploadBtn.addEventListener('click', () => busy(uploadBtn, async () => {
    const files = Array.from(upload.files || []);
    if (!files.length) {
      replace(out, notice('warn', 'Choose one or more files first.'));
      return;
    }
    for (const f of files) {
      replace(out, notice('info', `Uploading ${f.name} (${fmtBytes(f.size)})…`));
      try {
        await fs.writeFile(join(cwd, f.name), new Uint8Array(await f.arrayBuffer()));
      } catch (e) {
        replace(out, notice('error', `Upload of ${f.name} failed: ${e.message}`));
        return;
      }
    }
    upload.value = '';
    replace(out, notice('ok', `Uploaded ${files.length} file${files.length === 1 ? '' : 's'}.`));
    await load();
  }));
  const dir = field('New folder', { autocomplete: 'off', spellcheck: 'false', required: true, pattern: '[^\\/]+' });
  const mk = form({ class: 'row wrap align-end', 'aria-label': 'Make a folder' }, [dir.wrap, h('button', { type: 'submit', class: 'secondary' }, 'Create folder')], async () => {
    try {
      await fs.mkdir(join(cwd, dir.input.value.trim()));
      await load();
      return true;
    } catch (e) {
      replace(out, notice('error', e.message));
    }
  });

  const download = async (entry) => {
    try {
      const bytes = await fs.readFile(entry.path);
      const url = URL.createObjectURL(new Blob([bytes]));
      const a = h('a', { href: url, download: entry.path.split('/').pop(), hidden: true });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
      announce(`Downloaded ${entry.path}`);
    } catch (e) {
      replace(out, notice('error', `Download failed: ${e.message}`));
    }
  };
  const remove = async (entry) => {
    const isDir = entry.type === 'dir';
    if (!await confirmDanger({ title: `Delete ${entry.path}?`, text: isDir ? 'The folder and everything in it is removed.' : 'The file is removed.' })) return;
    try {
      await fs.rm(entry.path, isDir);
      announce(`Deleted ${entry.path}`);
      await load();
    } catch (e) {
      replace(out, notice('error', e.message));
    }
  };

  const load = async () => {
    const parts = cwd.split('/').filter(Boolean);
    replace(crumbs, h('button', { type: 'button', class: 'link', onClick: () => go('/') }, '/'),
      parts.map((p, i) => [h('span', { 'aria-hidden': 'true' }, ' › '),
        h('button', { type: 'button', class: 'link', 'aria-current': i === parts.length - 1 ? 'location' : null, onClick: () => go(`/${parts.slice(0, i + 1).join('/')}`) }, p)]));
    let entries;
    try {
      entries = (await fs.readdir(cwd)).entries || [];
    } catch (e) {
      replace(listEl, notice('error', e.message));
      return;
    }
    if (!ctx.live) return;
    entries.sort((a, b) => (b.type === 'dir') - (a.type === 'dir') || a.path.localeCompare(b.path));
    replace(listEl, table([
      { label: 'Name', cell: (e) => (e.type === 'dir'
        ? h('button', { type: 'button', class: 'link', onClick: () => go(e.path) }, `${e.path.split('/').pop()}/`)
        : h('span', {}, e.path.split('/').pop(), e.type === 'symlink' ? ' →' : '')) },
      { label: 'Size', cell: (e) => (e.type === 'dir' ? '—' : fmtBytes(e.size)), class: 'num' },
      { label: 'Mode', cell: (e) => h('code', {}, (Number(e.mode) & 0o7777).toString(8).padStart(4, '0')), class: 'hide-narrow' },
      { label: 'Modified', cell: (e) => timeCell(e.mtime), class: 'hide-narrow' },
      { label: 'Actions', cell: (e) => [
        e.type === 'file' ? h('button', { type: 'button', class: 'secondary small', onClick: () => download(e), 'aria-label': `Download ${e.path}` }, 'Download') : null,
        ' ',
        h('button', { type: 'button', class: 'danger small', onClick: () => remove(e), 'aria-label': `Delete ${e.path}` }, 'Delete')] },
    ], entries, { label: `Files in ${cwd}`, empty: 'This folder is empty.' }));
  };
  const go = (path) => {
    cwd = path || '/';
    load();
  };

  replace(main,
    section('Files', crumbs,
      h('div', { class: 'row wrap align-end' },
        h('div', { class: 'field' }, h('label', { for: 'files-upload' }, 'Upload to this folder'), upload), uploadBtn),
      mk, out, listEl));
  await load();
}
