//! The shared page layout, its style sheet, and HTML escaping.

use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use time::macros::format_description;
use time::{OffsetDateTime, UtcOffset};

use crate::users::UserData;

const STYLE: &str = "
  * { box-sizing: border-box; }
  body { margin: 0; font: 16px/1.5 system-ui, sans-serif; color: #1f2328; background: #f6f8fa; }
  header { background: #24292f; color: #fff; padding: .75rem 1.5rem; display: flex;
           gap: 1.25rem; align-items: center; flex-wrap: wrap; }
  header a { color: #fff; text-decoration: none; }
  header .who { margin-left: auto; display: flex; gap: .75rem; align-items: center; }
  main { max-width: 46rem; margin: 2rem auto; padding: 0 1.5rem; }
  .card { background: #fff; border: 1px solid #d0d7de; border-radius: 8px; padding: 1.25rem 1.5rem;
          margin-bottom: 1.25rem; }
  h1 { font-size: 1.5rem; margin-top: 0; }
  label { display: block; margin: .75rem 0 .25rem; font-weight: 600; }
  input[type=text], input[type=password] { width: 100%; padding: .5rem; border: 1px solid #d0d7de;
          border-radius: 6px; font: inherit; }
  button { font: inherit; padding: .4rem .9rem; border-radius: 6px; border: 1px solid #1f883d;
           background: #1f883d; color: #fff; cursor: pointer; }
  button.quiet { background: #fff; color: #cf222e; border-color: #d0d7de; }
  header button { background: transparent; border-color: #8c959f; }
  form.inline { display: inline; margin: 0; }
  .error { background: #ffebe9; border: 1px solid #ff818266; padding: .5rem .75rem; border-radius: 6px; }
  table { width: 100%; border-collapse: collapse; }
  th, td { text-align: left; padding: .5rem .4rem; border-bottom: 1px solid #d8dee4; vertical-align: top; }
  .tag { font-size: .8rem; background: #ddf4ff; color: #0969da; border-radius: 1em; padding: .1rem .5rem; }
  .muted { color: #59636e; font-size: .9rem; }
  code { background: #eff1f3; padding: .1rem .3rem; border-radius: 4px; }
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
