//! What goes wrong on a page, and the sentence that says what to do.

use std::sync::{Arc, Mutex, PoisonError};

use askama::Template;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::http::header::CACHE_CONTROL;
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};

use super::i18n::{Lang, Text};

/// A page that cannot be shown as asked.
#[derive(Debug)]
pub enum WebError {
    /// No organisation lives at this host.
    NoOffice,
    /// Not signed in: go to sign-in.
    SignIn,
    /// Not allowed.
    Forbidden,
    /// Nothing here.
    NotFound,
    /// A form from elsewhere, or with a stale token.
    CrossSite,
    /// An admin action without a fresh passkey confirmation.
    StepUp,
    /// Input that cannot be used, with the sentence to show.
    Invalid(String),
    /// Something broke; the details go to the log.
    Backend(anyhow::Error),
}

impl From<anyhow::Error> for WebError {
    fn from(e: anyhow::Error) -> Self {
        WebError::Backend(e)
    }
}

impl From<guss_identity::Error> for WebError {
    fn from(e: guss_identity::Error) -> Self {
        use guss_identity::Error as E;
        match e {
            E::Forbidden => WebError::Forbidden,
            E::Unauthenticated => WebError::SignIn,
            E::StepUpRequired => WebError::StepUp,
            E::NotFound { .. } => WebError::NotFound,
            E::Backend(source) => WebError::Backend(anyhow::anyhow!(source)),
            // The rest say what to change (a step-up, a conflict, a limit).
            other => WebError::Invalid(other.to_string()),
        }
    }
}

#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage {
    t: &'static Text,
    lang: &'static str,
    title: &'static str,
    text: String,
}

impl WebError {
    /// The page in `lang`.
    pub fn page(self, lang: Lang) -> Response {
        let t = lang.text();
        let (status, title, text) = match self {
            WebError::SignIn => return Redirect::to("/sign-in").into_response(),
            WebError::NoOffice => (
                StatusCode::NOT_FOUND,
                t.no_office_title,
                t.no_office_text.to_owned(),
            ),
            WebError::NotFound => (
                StatusCode::NOT_FOUND,
                t.not_found_title,
                t.not_found_text.to_owned(),
            ),
            WebError::Forbidden => (
                StatusCode::FORBIDDEN,
                t.forbidden_title,
                t.forbidden_text.to_owned(),
            ),
            WebError::CrossSite => (
                StatusCode::FORBIDDEN,
                t.error_title,
                t.form_expired.to_owned(),
            ),
            WebError::StepUp => (
                StatusCode::BAD_REQUEST,
                t.error_title,
                t.step_up_hint.to_owned(),
            ),
            WebError::Invalid(text) => (StatusCode::BAD_REQUEST, t.error_title, text),
            WebError::Backend(e) => {
                tracing::error!(error = format!("{e:#}"), "page failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    t.error_title,
                    t.error_text.to_owned(),
                )
            }
        };
        let page = MessagePage {
            t,
            lang: lang.code(),
            title,
            text,
        };
        match page.render() {
            Ok(html) => (status, [(CACHE_CONTROL, "no-store")], Html(html)).into_response(),
            Err(_) => (status, title).into_response(),
        }
    }
}

/// A page error waiting for the request's language.
#[derive(Clone)]
struct Pending(Arc<Mutex<Option<WebError>>>);

impl IntoResponse for WebError {
    /// Handlers do not know the language when they fail: the response
    /// carries the error, and a middleware renders it in the request's.
    fn into_response(self) -> Response {
        let mut response = StatusCode::INTERNAL_SERVER_ERROR.into_response();
        response
            .extensions_mut()
            .insert(Pending(Arc::new(Mutex::new(Some(self)))));
        response
    }
}

/// Renders page errors in the language of their request.
pub(crate) async fn localize(request: Request, next: Next) -> Response {
    let lang = Lang::of(
        request.headers(),
        super::query_lang(request.uri()).as_deref(),
    );
    let response = next.run(request).await;
    let pending = response
        .extensions()
        .get::<Pending>()
        .and_then(|p| p.0.lock().unwrap_or_else(PoisonError::into_inner).take());
    match pending {
        Some(error) => error.page(lang),
        None => response,
    }
}
