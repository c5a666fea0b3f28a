//! The fixed parts of `-o html`: its style sheet and the few lines of script behind the copy
//! buttons. Both are inlined into every report, so that the file works offline and from a
//! `file://` path; neither may name anything outside the file (no URL, no font, no `@import`).

/// Screen first, narrow first (a phone at 390 px), then wider screens and paper. Severity is a word
/// in every badge; the colour only repeats it.
pub const CSS: &str = r#"
:root{--fg:#1f2328;--muted:#59636e;--line:#d1d9e0;--bg:#fff;--soft:#f6f8fa;
--err:#b42318;--err-bg:#fef3f2;--warn:#8a5a00;--warn-bg:#fff8e6;--info:#175cd3;--info-bg:#eff4ff;
--ok:#1a7f37;--mono:ui-monospace,SFMono-Regular,Menlo,Consolas,"Liberation Mono","Noto Sans Mono CJK SC",monospace}
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{margin:0;padding:12px;color:var(--fg);background:var(--bg);line-height:1.5;
font:15px/1.55 system-ui,-apple-system,"Segoe UI","PingFang SC","Microsoft YaHei","Noto Sans CJK SC",sans-serif;
overflow-wrap:anywhere}
main{max-width:1100px;margin:0 auto}
h1{font-size:1.35rem;margin:.2rem 0 .6rem}
h2{font-size:1.15rem;margin:1.6rem 0 .6rem;padding-bottom:.25rem;border-bottom:1px solid var(--line)}
h3{font-size:1rem;margin:0}
h4{font-size:.9rem;margin:.9rem 0 .3rem;color:var(--muted)}
code,pre,kbd{font-family:var(--mono);font-size:.86rem}
dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:.15rem .8rem;margin:0 0 .8rem}
dl.meta dt{color:var(--muted)}
dl.meta dd{margin:0}
ul.counts{display:flex;flex-wrap:wrap;gap:.5rem;list-style:none;padding:0;margin:.4rem 0}
ul.counts li{border:1px solid var(--line);border-left-width:6px;border-radius:6px;padding:.25rem .6rem}
ul.counts b{font-size:1.3rem;margin-right:.35rem}
.sev-error{border-left-color:var(--err)!important}
.sev-warning{border-left-color:var(--warn)!important}
.sev-info{border-left-color:var(--info)!important}
.badge{display:inline-block;font-weight:700;font-size:.8rem;letter-spacing:.02em;padding:.05rem .45rem;border-radius:4px;border:1px solid currentColor;text-transform:uppercase;white-space:nowrap}
.badge.error{color:var(--err);background:var(--err-bg)}
.badge.warning{color:var(--warn);background:var(--warn-bg)}
.badge.info{color:var(--info);background:var(--info-bg)}
.scroll{overflow-x:auto;-webkit-overflow-scrolling:touch}
table{border-collapse:collapse;width:100%;font-size:.88rem}
th,td{text-align:left;vertical-align:top;padding:.3rem .5rem;border-bottom:1px solid var(--line);overflow-wrap:normal}
td.nowrap{white-space:nowrap}
td.prose{min-width:14rem}
th{background:var(--soft);white-space:nowrap}
td.num{text-align:right}
.state{font-weight:600}
.state.bad{color:var(--err)}
.state.pending{color:var(--warn)}
.state.good{color:var(--ok)}
ol.overview{padding-left:1.6rem;margin:.3rem 0}
ol.overview li{margin:.15rem 0}
ol.overview a{color:inherit}
article.finding{border:1px solid var(--line);border-left-width:6px;border-radius:8px;padding:.7rem .8rem;margin:.9rem 0}
.finding header{display:flex;flex-wrap:wrap;gap:.3rem .6rem;align-items:baseline}
.finding .object{font-family:var(--mono);font-size:.88rem}
.finding .title{font-weight:600;margin:.45rem 0 .2rem}
.finding .rule{color:var(--muted);font-size:.82rem;margin:0}
ul.evidence{margin:0;padding-left:1.2rem}
ul.evidence li{margin:.15rem 0}
ul.evidence li.log{list-style:none}
pre{margin:0;white-space:pre-wrap;overflow-wrap:anywhere;word-break:break-word}
pre.log{background:var(--soft);border:1px solid var(--line);border-radius:6px;padding:.4rem .55rem;margin:.25rem 0}
.cmd{display:flow-root;background:#0d1117;color:#e6edf3;border-radius:6px;padding:.55rem .6rem;margin:.35rem 0}
.cmd pre{white-space:pre;overflow-x:auto;overflow-wrap:normal;word-break:normal;-webkit-overflow-scrolling:touch}
.cmd.later{background:var(--soft);color:var(--fg);border:1px dashed var(--muted)}
.cmd .tag{display:block;font-size:.78rem;color:var(--muted);margin-bottom:.2rem}
button.copy{float:right;margin:0 0 .3rem .6rem;font:inherit;font-size:.78rem;padding:.15rem .55rem;border-radius:4px;border:1px solid #8b949e;background:#fff;color:#1f2328;cursor:pointer}
p.advice{margin:.45rem 0 .2rem;color:var(--muted);border-left:3px solid var(--line);padding-left:.5rem}
details{margin-top:.7rem}
summary{cursor:pointer;color:var(--muted);font-weight:600}
details p{margin:.4rem 0 0}
footer{margin-top:2rem;color:var(--muted);font-size:.8rem}
.muted{color:var(--muted)}
@media (max-width:640px){
body{padding:8px}
article.finding{padding:.55rem .55rem;border-left-width:5px}
ul.evidence{padding-left:1rem}
table,tbody,tr,td{display:block;width:100%}
thead{display:none}
tr{border:1px solid var(--line);border-radius:6px;padding:.3rem .5rem;margin:.4rem 0}
td{border:0;padding:.1rem 0;display:grid;grid-template-columns:7.5rem 1fr;gap:.5rem;white-space:normal!important;text-align:left!important;min-width:0!important}
td::before{content:attr(data-label);color:var(--muted)}
}
@media (min-width:700px){body{padding:24px}h1{font-size:1.6rem}}
@media print{
body{padding:0;font-size:11pt}
button.copy,ol.overview{display:none}
.cmd{background:#fff;color:#000;border:1px solid #000}
.cmd pre{white-space:pre-wrap;overflow-wrap:anywhere}
a{color:inherit;text-decoration:none}
article.finding{break-inside:auto}
.cmd,pre.log,tr{break-inside:avoid}
h2,h4,.finding header{break-after:avoid}
}
"#;

/// A copy button copies its block's commands only (not its own label); where the clipboard API is
/// not offered it selects them, for Ctrl-C. Printing opens the folded explanations.
pub const JS: &str = r#"
document.querySelectorAll("button.copy").forEach(function(b){b.addEventListener("click",function(){
var t=b.parentNode.querySelector("code").innerText,done=b.getAttribute("data-done"),label=b.textContent;
function ok(){b.textContent=done;setTimeout(function(){b.textContent=label},1500)}
function pick(){var r=document.createRange();r.selectNodeContents(b.parentNode.querySelector("code"));
var s=getSelection();s.removeAllRanges();s.addRange(r);try{if(document.execCommand("copy"))ok()}catch(e){}}
if(navigator.clipboard&&navigator.clipboard.writeText){navigator.clipboard.writeText(t).then(ok,pick)}else{pick()}
})});
addEventListener("beforeprint",function(){document.querySelectorAll("details").forEach(function(d){d.open=true})});
"#;
