extension WebUIAssets {
    /// `/ui/vitrine.css`. A grid that reflows from one column on a phone to as many as fit;
    /// visible focus on everything that takes it; the drop zone shown only when the script runs
    /// (`html.js`), the plain file input otherwise.
    static let stylesheet = #"""
:root {
  --ink: #1c1c1e; --muted: #5c5c66; --line: #d9d9de; --paper: #fff; --tint: #f5f4f1;
  --accent: #1f5fbf; --accent-ink: #fff; --danger: #a4161a; --focus: #ffb020;
  color-scheme: light;
}
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); background: var(--tint); }
a { color: var(--accent); }
:focus-visible { outline: 3px solid var(--focus); outline-offset: 2px; }
.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
.skip { position: absolute; left: -999px; top: 0; background: var(--paper); padding: .5rem 1rem; z-index: 2; }
.skip:focus { left: 1rem; }

.top { display: grid; grid-template-columns: auto 1fr minmax(14rem, 22rem); gap: 1rem; align-items: end;
  padding: 1rem clamp(1rem, 3vw, 2rem); background: var(--paper); border-bottom: 1px solid var(--line); }
.brand { font-weight: 800; font-size: 1.5rem; letter-spacing: .02em; text-decoration: none; color: var(--ink); align-self: center; }
.search { display: flex; flex-wrap: wrap; gap: .5rem; align-items: end; }
.field { display: flex; flex-direction: column; gap: .2rem; min-width: 0; }
.field.grow { flex: 1 1 16rem; }
label { font-size: .8rem; color: var(--muted); font-weight: 600; }
input[type=search], select { font: inherit; padding: .5rem .6rem; border: 1px solid #9a9aa3; border-radius: 6px; background: var(--paper); color: var(--ink); max-width: 100%; }
select { max-width: 14rem; }
button { font: inherit; font-weight: 600; padding: .5rem 1rem; border: 0; border-radius: 6px; background: var(--accent); color: var(--accent-ink); cursor: pointer; }
button:hover { filter: brightness(1.1); }
button.secondary { background: var(--paper); color: var(--accent); border: 1px solid var(--accent); }

.upload { display: flex; flex-wrap: wrap; gap: .5rem; align-items: end; }
.drop { display: none; flex: 1; flex-direction: column; justify-content: center; min-height: 4.2rem; padding: .5rem .8rem;
  border: 2px dashed #9a9aa3; border-radius: 8px; background: var(--tint); cursor: pointer; }
.drop-title { font-weight: 700; }
.drop-help { font-size: .85rem; color: var(--muted); }
.drop.over { border-color: var(--accent); background: #e8f0fc; }
.drop.busy { opacity: .6; cursor: progress; }
html.js .drop { display: flex; }
html.js .upload .field.file, html.js .upload-submit { display: none; }

main { padding: 1rem clamp(1rem, 3vw, 2rem) 2rem; max-width: 90rem; margin: 0 auto; }
h1 { font-size: 1.35rem; margin: .5rem 0 .25rem; display: flex; align-items: center; gap: .6rem; }
h1:focus { outline: none; }
.similar-thumb, .photo-preview { width: 48px; height: 48px; object-fit: contain; background: var(--paper); border: 1px solid var(--line); border-radius: 6px; }
.status { color: var(--muted); margin: 0 0 1rem; min-height: 1.45em; }
.error { border: 1px solid var(--danger); border-left-width: 6px; background: #fdecec; color: var(--danger); padding: .75rem 1rem; border-radius: 6px; margin: .5rem 0 1rem; font-weight: 600; }
.error[hidden], .empty[hidden], .pager[hidden] { display: none; }
.note { color: var(--muted); font-size: .9rem; }
.empty { background: var(--paper); border: 1px solid var(--line); border-radius: 8px; padding: 2rem; text-align: center; color: var(--muted); }

.grid { list-style: none; margin: 0; padding: 0; display: grid; gap: 1rem; grid-template-columns: repeat(auto-fill, minmax(11rem, 1fr)); }
.card { display: flex; flex-direction: column; background: var(--paper); border: 1px solid var(--line); border-radius: 8px; padding: .6rem; min-width: 0; }
.card img { width: 100%; height: auto; aspect-ratio: 1; object-fit: contain; background: var(--tint); border-radius: 4px; }
.card .name { font-size: 1rem; margin: .5rem 0 .2rem; overflow-wrap: anywhere; }
.card .meta, .card .score { margin: 0; font-size: .85rem; color: var(--muted); overflow-wrap: anywhere; }
.card .more { margin-top: auto; padding-top: .5rem; font-weight: 600; }
.pager { display: flex; gap: 1.5rem; justify-content: center; align-items: center; margin: 1.5rem 0; }
.pager a, .pager button { min-width: 7rem; text-align: center; }
.foot { text-align: center; color: var(--muted); padding: 1rem 0 2rem; font-size: .9rem; }

@media (max-width: 48rem) {
  .top { grid-template-columns: 1fr; }
  select { max-width: none; }
  .search .field { flex: 1 1 8rem; }
  .grid { grid-template-columns: repeat(auto-fill, minmax(9rem, 1fr)); gap: .6rem; }
}
"""#
}
