//! The route table: which handler answers which path, behind which guard.

use axum::Router;
use axum::middleware::from_fn;
use axum::routing::{delete, get, post};
use sessionward::{SessionLayer, require_fresh, require_role, require_session};

use crate::session_pages;
use crate::users::UserData;
use crate::{AppState, account, admin, admin_api, api, html, logging, login, metrics, pages};

/// Every route. Guards sit on sub-routers as `route_layer`s; the session layer wraps them all,
/// and the request log wraps the session layer so it also sees the requests that layer refuses.
pub fn app(state: AppState, sessions: SessionLayer) -> Router {
    let public = Router::new()
        .route("/", get(pages::home))
        .route("/login", get(login::login_form).post(login::login))
        .route("/logout", post(login::logout))
        // These two send a visitor without a session to `/login?next=/sessions` themselves: a
        // guard would send a POST to plain `/login` (a POST cannot be replayed after login).
        .route("/sessions/{id}/revoke", post(session_pages::revoke))
        .route(
            "/sessions/revoke-others",
            post(session_pages::revoke_others),
        )
        .route("/api/login", post(api::login))
        .route("/api/token", post(api::token))
        .route("/api/logout", post(api::logout))
        .route("/metrics", get(metrics));

    let pages = Router::new()
        .route("/dashboard", get(pages::dashboard))
        .route("/sessions", get(session_pages::sessions))
        .route(
            "/reauth",
            get(account::reauth_form).post(account::reauth_submit),
        )
        .route_layer(require_session().redirect_to("/login"));

    // Without a session: the login page; signed in too long ago: the password again.
    let fresh_pages = Router::new()
        .route("/account", get(account::account_page))
        .route_layer(require_fresh(state.fresh_age).redirect_to("/reauth"))
        .route_layer(require_session().redirect_to("/login"));

    let admin = Router::new()
        .route("/admin", get(admin::admin))
        .route("/admin/users/{user_id}/role", post(admin::set_role))
        .route_layer(
            require_role::<UserData>("admin")
                .redirect_to("/login")
                .forbidden_page(html::standalone(
                    "Forbidden",
                    "<div class=\"card\"><h1>403 Forbidden</h1>\
                     <p>Only administrators may open this page.</p>\
                     <p><a href=\"/dashboard\">Back to the dashboard</a></p></div>",
                )),
        );

    let api = Router::new()
        .route("/api/me", get(api::me))
        .route("/api/sessions", get(api::sessions))
        .route("/api/sessions/{id}", delete(api::revoke))
        .route("/api/sessions/revoke-others", post(api::revoke_others))
        .route("/api/refresh", post(api::refresh))
        .route("/api/reauth", post(account::reauth))
        .route_layer(require_session());

    let fresh_api = Router::new()
        .route("/api/account", get(account::account))
        .route_layer(require_fresh(state.fresh_age));

    let admin_api = Router::new()
        .route("/api/admin/users/{user_id}/role", post(admin_api::set_role))
        .route("/api/admin/events", get(admin_api::recent_events))
        .route_layer(require_role::<UserData>("admin"));

    public
        .merge(pages)
        .merge(fresh_pages)
        .merge(admin)
        .merge(api)
        .merge(fresh_api)
        .merge(admin_api)
        .fallback(pages::not_found)
        .with_state(state)
        .layer(sessions)
        .layer(from_fn(logging::log_requests))
}
