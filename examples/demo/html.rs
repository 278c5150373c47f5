//! The shared page layout, its style sheet, and HTML escaping.

use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use sessionward::safe_redirect_target;
use time::macros::format_description;
use time::{OffsetDateTime, UtcOffset};

use crate::users::UserData;

const STYLE: &str = "
  * { box-sizing: border-box; }
  body { margin: 0; font: 16px/1.5 system-ui, -apple-system, 'Segoe UI', sans-serif;
         color: #1f2328; background: #f6f8fa; }
  a { color: #0969da; }
  header { background: #24292f; color: #fff; padding: 0 1.5rem; min-height: 3.5rem; display: flex;
           gap: 1.25rem; align-items: center; flex-wrap: wrap; }
  header a { color: #d1d9e0; text-decoration: none; }
  header a:hover, header strong a { color: #fff; }
  header .who { margin-left: auto; display: flex; gap: .75rem; align-items: center; }
  main { max-width: 52rem; margin: 2.5rem auto; padding: 0 1.5rem; }
  .card { background: #fff; border: 1px solid #d0d7de; border-radius: 8px; padding: 1.5rem;
          margin-bottom: 1.25rem; box-shadow: 0 1px 3px #1f232814; }
  .card.narrow { max-width: 24rem; margin-left: auto; margin-right: auto; }
  h1 { font-size: 1.5rem; margin: 0 0 1rem; }
  p { margin: .75rem 0; }
  label { display: block; margin: .9rem 0 .3rem; font-weight: 600; font-size: .95rem; }
  label.check { font-weight: 400; }
  input[type=text], input[type=password] { width: 100%; padding: .5rem .65rem; font: inherit;
          border: 1px solid #d0d7de; border-radius: 6px; background: #f6f8fa; }
  input:focus { outline: 2px solid #0969da; outline-offset: -1px; background: #fff; }
  button { font: inherit; padding: .4rem .9rem; border-radius: 6px; border: 1px solid #1f883d;
           background: #1f883d; color: #fff; cursor: pointer; white-space: nowrap; }
  button:hover { background: #1a7f37; }
  button.wide { width: 100%; margin-top: .75rem; padding: .55rem; font-weight: 600; }
  button.quiet { background: #f6f8fa; color: #cf222e; border-color: #d0d7de; }
  button.quiet:hover { background: #ffebe9; border-color: #ff8182; }
  header button { background: transparent; border-color: #8c959f; font-size: .9rem;
                  padding: .25rem .75rem; }
  header button:hover { background: #32383f; }
  form.inline { display: inline; margin: 0; }
  .error { background: #ffebe9; border: 1px solid #ff818266; padding: .5rem .75rem;
           border-radius: 6px; }
  table { width: 100%; border-collapse: collapse; }
  th, td { text-align: left; padding: .6rem .5rem; border-bottom: 1px solid #d8dee4;
           vertical-align: baseline; }
  th { color: #59636e; font-weight: 600; font-size: .9rem; }
  tr:last-child > td, tr:last-child > th { border-bottom: 0; }
  table.facts th { width: 10rem; }
  .nowrap { white-space: nowrap; }
  td.actions { text-align: right; }
  .tag { font-size: .8rem; background: #ddf4ff; color: #0969da; border-radius: 1em;
         padding: .1rem .5rem; white-space: nowrap; }
  .muted { color: #59636e; font-size: .9rem; }
  code { background: #eff1f3; padding: .1rem .3rem; border-radius: 4px; font-size: .9em;
         white-space: nowrap; }
";

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The hidden `next` field of a form that goes on to `next` afterwards: empty unless `next` is a
/// safe target on this site.
pub fn next_field(next: Option<&str>) -> String {
    next.and_then(safe_redirect_target)
        .map_or(String::new(), |next| {
            format!(
                "<input type=\"hidden\" name=\"next\" value=\"{}\">",
                escape(next)
            )
        })
}

/// A time for people: `2030-01-31 14:05 UTC`.
pub fn when(t: OffsetDateTime) -> String {
    t.to_offset(UtcOffset::UTC)
        .format(format_description!(
            "[year]-[month]-[day] [hour]:[minute] UTC"
        ))
        .unwrap_or_else(|_| "?".to_owned())
}

/// A whole page: head, navigation (which depends on who is logged in), and `body`, which the
/// caller has already escaped. Pages show who is logged in, so no cache may keep them.
pub fn page(title: &str, user: Option<&UserData>, body: &str) -> Response {
    let who = match user {
        Some(user) => format!(
            "<span>{name} <span class=\"tag\">{role}</span></span>\
             <form class=\"inline\" method=\"post\" action=\"/logout\">\
             <button type=\"submit\">Log out</button></form>",
            name = escape(&user.name),
            role = escape(&user.role),
        ),
        None => "<a href=\"/login\">Log in</a>".to_owned(),
    };
    let admin = match user {
        Some(user) if user.role == "admin" => "<a href=\"/admin\">Admin</a>",
        _ => "",
    };
    let html = Html(format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} · sessionward demo</title><style>{STYLE}</style></head><body>\
         <header><strong><a href=\"/\">sessionward demo</a></strong>\
         <a href=\"/dashboard\">Dashboard</a><a href=\"/sessions\">Sessions</a>{admin}\
         <span class=\"who\">{who}</span></header>\
         <main>{body}</main></body></html>\n",
        title = escape(title),
    ));
    ([(header::CACHE_CONTROL, "no-store")], html).into_response()
}

/// A page without the navigation bar, for answers given before the app knows who is asking
/// (the admin guard's 403).
pub fn standalone(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} · sessionward demo</title><style>{STYLE}</style></head><body>\
         <header><strong><a href=\"/\">sessionward demo</a></strong>\
         <a href=\"/dashboard\">Dashboard</a><a href=\"/sessions\">Sessions</a></header>\
         <main>{body}</main></body></html>\n",
        title = escape(title),
    )
}
