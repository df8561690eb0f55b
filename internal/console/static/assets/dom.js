// Small DOM helpers. Everything the console shows is built with these:
// text always goes in as text nodes, never through innerHTML, so data from
// the server (table names, SQL results, file names) cannot become markup.

const SVG_NS = 'http://www.w3.org/2000/svg';

function build(el, attrs, children) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') {
      el.addEventListener(k.slice(2).toLowerCase(), v);
    } else if (k === 'class') {
      el.setAttribute('class', Array.isArray(v) ? v.filter(Boolean).join(' ') : v);
    } else if (k === 'dataset') {
      Object.assign(el.dataset, v);
    } else if (k === 'value' || k === 'checked' || k === 'selected') {
      el[k] = v;
    } else {
      el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  append(el, children);
  return el;
}

/** append adds children (nodes, strings, numbers, nested arrays; null skipped). */
export function append(el, children) {
  for (const c of [children].flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** h creates an HTML element: h('button', {class: 'x', onClick}, 'text'). */
export function h(tag, attrs, ...children) {
  return build(document.createElement(tag), attrs, children);
}

/** s creates an SVG element. */
export function s(tag, attrs, ...children) {
  return build(document.createElementNS(SVG_NS, tag), attrs, children);
}

/** clear empties an element and fills it with children. */
export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

let idSeq = 0;
/** uid returns a document-unique id for label/input pairs. */
export function uid(prefix = 'f') {
  idSeq += 1;
  return `${prefix}-${idSeq}`;
}

/** field returns a label and an input bound together, in a wrapper. */
export function field(label, inputAttrs = {}, hint) {
  const id = inputAttrs.id || uid();
  const tag = inputAttrs.tag || 'input';
  const attrs = { ...inputAttrs, id };
  delete attrs.tag;
  let hintEl = null;
  if (hint) {
    const hid = `${id}-hint`;
    attrs['aria-describedby'] = hid;
    hintEl = h('small', { id: hid, class: 'hint' }, hint);
  }
  const input = h(tag, attrs);
  const wrap = h('div', { class: 'field' }, h('label', { for: id }, label), input, hintEl);
  return { wrap, input };
}
