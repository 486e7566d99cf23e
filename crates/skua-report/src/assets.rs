//! The page's inline stylesheet and script. Both are hand-written for this report; the page
//! reads completely without the script (it only adds table sorting and a panel filter).

/// Inline CSS.
pub const CSS: &str = r#"
:root{--ink:#1f2328;--dim:#5b6470;--line:#d8dde3;--bg:#fff;--soft:#f5f7f9;--accent:#0072B2;--good:#009E73;--warn:#D55E00}
*{box-sizing:border-box}
[hidden]{display:none!important}
html{-webkit-text-size-adjust:100%}
body{margin:0;background:var(--bg);color:var(--ink);font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
main{max-width:1240px;margin:0 auto;padding:24px 20px 48px}
h1{font-size:1.7rem;margin:0 0 4px;letter-spacing:-.01em}
h2{font-size:1.3rem;margin:40px 0 10px;padding-bottom:6px;border-bottom:2px solid var(--line)}
h3{font-size:1.02rem;margin:18px 0 6px}
p{margin:6px 0 10px;max-width:80ch}
.meta{color:var(--dim);margin:0 0 16px}
.facts{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:10px;margin:0 0 14px}
.facts div{background:var(--soft);border:1px solid var(--line);border-radius:8px;padding:8px 12px}
.facts dt{font-size:.78rem;color:var(--dim);text-transform:uppercase;letter-spacing:.04em}
.facts dd{margin:2px 0 0;font-size:1.15rem;font-weight:600;font-variant-numeric:tabular-nums;overflow-wrap:anywhere}
.facts dd.long{font-size:.9rem;font-weight:500;line-height:1.35}
nav.toc{display:flex;flex-wrap:wrap;gap:6px 14px;font-size:.92rem;padding:8px 0;border-top:1px solid var(--line);border-bottom:1px solid var(--line)}
a{color:var(--accent)}
.verdict{font-size:1.08rem;background:#eef7f3;border-left:4px solid var(--good);padding:10px 14px;border-radius:4px;max-width:none}
.how p{max-width:95ch}
.how h3{margin-top:14px}
.row{display:grid;grid-template-columns:minmax(0,3fr) minmax(0,2fr);gap:24px;align-items:start}
@media (max-width:900px){.row{grid-template-columns:minmax(0,1fr)}}
svg.chart{display:block;width:100%;height:auto;max-width:100%}
.panels{display:grid;grid-template-columns:repeat(auto-fill,minmax(760px,1fr));gap:18px}
@media (max-width:820px){.panels{grid-template-columns:minmax(0,1fr)}}
figure{margin:0}
figure.panel{border:1px solid var(--line);border-radius:8px;padding:10px 12px 8px;background:#fff}
figure.panel h3{margin:0 0 4px;font-size:1rem;overflow-wrap:anywhere}
figcaption{font-size:.86rem;color:var(--dim);margin-top:4px}
.chips{display:flex;flex-wrap:wrap;gap:4px 6px;margin:6px 0 12px;font-size:.85rem}
.chips a{padding:1px 8px;border:1px solid var(--line);border-radius:999px;text-decoration:none;background:var(--soft)}
.tag{display:inline-block;white-space:nowrap;font-size:.72rem;font-weight:600;padding:0 6px;border-radius:999px;background:#e3eef7;color:#0b4f7a;vertical-align:middle}
.scroll{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;font-size:.88rem;margin:6px 0 10px;width:100%}
th,td{padding:4px 9px;border-bottom:1px solid var(--line);vertical-align:top}
th{background:var(--soft);text-align:left;font-weight:600;white-space:nowrap;position:sticky;top:0}
table.num td{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
table.num td.txt{text-align:left;white-space:normal;overflow-wrap:break-word}
td.path{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.82rem}
tbody tr:nth-child(even){background:#fafbfc}
td.best{background:#dcf1e8;font-weight:700}
tr.chosen td:first-child{font-weight:700}
td.warn{color:var(--warn);font-weight:600}
.dim{color:var(--dim)}
.sw{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:6px;vertical-align:baseline}
.st{font-size:.78rem;font-weight:600;padding:0 6px;border-radius:999px}
.st-accepted{background:#dcf1e8;color:#00583f}
.st-repaired{background:#fbeccb;color:#7a5200}
.st-rejected{background:#f9dccd;color:#8a3100}
.meter{display:inline-block;width:48px;height:7px;background:#e6e9ed;border-radius:4px;margin-right:6px;vertical-align:middle;overflow:hidden}
.meter span{display:block;height:100%;background:var(--accent)}
.omitted{color:var(--dim);font-style:italic;font-size:.88rem}
.counts{display:flex;gap:10px;flex-wrap:wrap;margin:8px 0}
.counts div{padding:6px 14px;border-radius:8px;background:var(--soft);border:1px solid var(--line)}
.counts b{font-size:1.25rem;margin-right:4px}
.stack{display:flex;height:14px;border-radius:7px;overflow:hidden;margin:4px 0 12px;background:#e6e9ed}
.stack span{display:block;height:100%;min-width:3px}
.stack .st-accepted{background:#009E73}.stack .st-repaired{background:#E69F00}.stack .st-rejected{background:#D55E00}
input#panel-filter{font:inherit;padding:4px 8px;border:1px solid var(--line);border-radius:6px;width:min(320px,100%)}
th[aria-sort=ascending]::after{content:" ▲";font-size:.7em}
th[aria-sort=descending]::after{content:" ▼";font-size:.7em}
table.sortable th{cursor:pointer}
details summary{cursor:pointer;color:var(--accent);margin:6px 0}
footer{margin-top:48px;color:var(--dim);font-size:.82rem;border-top:1px solid var(--line);padding-top:10px}
@media print{.js-only,nav.toc{display:none}figure.panel{break-inside:avoid}}
"#;

/// Inline script: sortable tables and the panel filter. No `<` characters, so it cannot close
/// its own element early.
pub const JS: &str = r#"
(function(){
  var each=function(list,f){Array.prototype.forEach.call(list,f);};
  each(document.querySelectorAll('.js-only'),function(e){e.hidden=false;});
  each(document.querySelectorAll('table.sortable'),function(t){
    var ths=t.tHead.rows[0].cells;
    each(ths,function(th,i){
      th.tabIndex=0;
      var key=function(r){
        var c=r.cells[i],v=c.getAttribute('data-v');
        if(v!==null){return v===''?Infinity:parseFloat(v);}
        v=c.textContent.trim();
        return /^-?[0-9.]+$/.test(v)?parseFloat(v):v.toLowerCase();
      };
      var go=function(){
        var asc=th.getAttribute('aria-sort')!=='ascending';
        each(ths,function(h){h.removeAttribute('aria-sort');});
        th.setAttribute('aria-sort',asc?'ascending':'descending');
        var body=t.tBodies[0],rows=Array.prototype.slice.call(body.rows);
        rows.sort(function(a,b){
          var x=key(a),y=key(b);
          var c=(typeof x==='number'&&typeof y==='number')?(x===y?0:(x>y?1:-1)):String(x).localeCompare(String(y));
          return asc?c:-c;
        });
        each(rows,function(r){body.appendChild(r);});
      };
      th.addEventListener('click',go);
      th.addEventListener('keydown',function(e){if(e.key==='Enter'){go();}});
    });
  });
  var f=document.getElementById('panel-filter');
  if(f){
    f.addEventListener('input',function(){
      var q=f.value.toLowerCase();
      each(document.querySelectorAll('figure.panel'),function(p){
        p.hidden=q!==''&&p.getAttribute('data-id').toLowerCase().indexOf(q)===-1;
      });
    });
  }
})();
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_assets_cannot_break_out_or_fetch() {
        assert!(!JS.contains('<'));
        assert!(!CSS.contains('<'));
        assert!(!CSS.contains("url(") && !CSS.contains("@import"));
    }
}
