//! The metadata endpoints Grafana's query editor and variables use:
//! `series`, `labels` and `label/<name>/values` (all with `match[]`,
//! `start`, `end`, `limit`), `metadata`, `status/buildinfo`, and an empty
//! `query_exemplars` so Grafana's exemplar toggle does not error.

use super::params::Params;
use super::{json, json_response, params, timed, Failure, Run, PROMETHEUS_API_VERSION};
use crate::config::names::is_label_name;
use crate::serve::history::{History, SERIES};
use crate::serve::query::{self, Labels};
use crate::serve::AppState;
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use std::collections::BTreeSet;

/// Most `match[]` selectors in one request (Grafana sends one or two).
const MAX_MATCH: usize = 64;

/// The series selected by `match[]` within `start`..`end` (everything
/// retained when absent).
fn matching(h: &History, p: &Params) -> Result<Vec<u32>, Failure> {
    let mut selectors = Vec::new();
    let all = p.all("match[]");
    // Each selector is parsed (regexes compiled) separately: bound them.
    if all.len() > MAX_MATCH {
        return Err(Failure(
            StatusCode::BAD_REQUEST,
            "bad_data",
            format!("too many match[] parameters: more than {MAX_MATCH} (nodewatch's limit)"),
        ));
    }
    for m in all {
        let e = query::parse(m).map_err(|e| {
            Failure(
                StatusCode::BAD_REQUEST,
                "bad_data",
                format!("invalid parameter \"match[]\": {e}"),
            )
        })?;
        selectors.push(e);
    }
    let start = p.time("start")?.unwrap_or(i64::MIN / 2);
    let end = p.time("end")?.unwrap_or(i64::MAX / 2);
    Ok(query::series_matching(h, &selectors, start, end)?)
}

pub(super) async fn series(State(st): State<AppState>, req: Request) -> Response {
    let p = match params(req).await {
        Ok(p) => p,
        Err(f) => return f.into_response(),
    };
    timed(&st, "series", Run::Pool, move |h, _| {
        if p.all("match[]").is_empty() {
            return Err(Failure(
                StatusCode::BAD_REQUEST,
                "bad_data",
                "no match[] parameter provided".into(),
            ));
        }
        let limit = p.limit()?;
        let mut ids = matching(h, &p)?;
        let mut sets: Vec<Labels> = ids
            .drain(..)
            .filter_map(|s| Some(h.series(s)?.labels.to_vec()))
            .collect();
        sets.sort_by(|a, b| cmp(h, a, b));
        if limit > 0 {
            sets.truncate(limit);
        }
        Ok(json::success(|o| {
            o.push('[');
            for (i, l) in sets.iter().enumerate() {
                if i > 0 {
                    o.push(',');
                }
                json::label_set(o, h, l);
            }
            o.push(']');
        }))
    })
    .await
}

fn cmp(h: &History, a: &Labels, b: &Labels) -> std::cmp::Ordering {
    let s = |l: &Labels| -> Vec<(&str, &str)> {
        l.iter()
            .map(|(k, v)| (h.strings.resolve(*k), h.strings.resolve(*v)))
            .collect()
    };
    s(a).cmp(&s(b))
}

pub(super) async fn labels(State(st): State<AppState>, req: Request) -> Response {
    let p = match params(req).await {
        Ok(p) => p,
        Err(f) => return f.into_response(),
    };
    timed(&st, "labels", Run::Pool, move |h, _| {
        let limit = p.limit()?;
        let names: BTreeSet<&str> = matching(h, &p)?
            .into_iter()
            .filter_map(|s| h.series(s))
            .flat_map(|s| s.labels.iter().map(|(k, _)| h.strings.resolve(*k)))
            .collect();
        Ok(string_list(names, limit))
    })
    .await
}

pub(super) async fn label_values(
    State(st): State<AppState>,
    Path(name): Path<String>,
    req: Request,
) -> Response {
    let p = match params(req).await {
        Ok(p) => p,
        Err(f) => return f.into_response(),
    };
    timed(&st, "label_values", Run::Pool, move |h, _| {
        if !is_label_name(&name) {
            return Err(Failure(
                StatusCode::BAD_REQUEST,
                "bad_data",
                format!("invalid label name: \"{name}\""),
            ));
        }
        let limit = p.limit()?;
        let Some(id) = h.strings.get(&name) else {
            return Ok(string_list(BTreeSet::new(), limit));
        };
        let values: BTreeSet<&str> = matching(h, &p)?
            .into_iter()
            .filter_map(|s| h.series(s))
            .filter_map(|s| s.labels.iter().find(|(k, _)| *k == id))
            .map(|(_, v)| h.strings.resolve(*v))
            .collect();
        Ok(string_list(values, limit))
    })
    .await
}

fn string_list(items: BTreeSet<&str>, limit: usize) -> String {
    let take = if limit == 0 { usize::MAX } else { limit };
    json::success(|o| {
        o.push('[');
        for (i, s) in items.iter().take(take).enumerate() {
            if i > 0 {
                o.push(',');
            }
            json::string(o, s);
        }
        o.push(']');
    })
}

pub(super) async fn metadata(req: Request) -> Response {
    let p = match params(req).await {
        Ok(p) => p,
        Err(f) => return f.into_response(),
    };
    let limit = match p.limit() {
        Ok(0) => usize::MAX,
        Ok(n) => n,
        Err(e) => return Failure::from(e).into_response(),
    };
    let metric = p.get("metric").filter(|m| !m.is_empty());
    let body = json::success(|o| {
        o.push('{');
        let rows = SERIES
            .iter()
            .filter(|(n, _, _)| metric.is_none_or(|m| m == *n))
            .take(limit);
        for (i, (name, kind, help)) in rows.enumerate() {
            if i > 0 {
                o.push(',');
            }
            json::string(o, name);
            o.push_str(":[{\"type\":");
            json::string(o, kind);
            o.push_str(",\"help\":");
            json::string(o, help);
            o.push_str(",\"unit\":\"\"}]");
        }
        o.push('}');
    });
    json_response(StatusCode::OK, body)
}

pub(super) async fn buildinfo() -> Response {
    let body = json::success(|o| {
        o.push_str("{\"version\":\"");
        o.push_str(PROMETHEUS_API_VERSION);
        o.push_str("\",\"revision\":\"nodewatch-");
        o.push_str(env!("CARGO_PKG_VERSION"));
        o.push_str("\",\"branch\":\"\",\"buildUser\":\"\",\"buildDate\":\"\",\"goVersion\":\"\"}");
    });
    json_response(StatusCode::OK, body)
}

pub(super) async fn exemplars() -> Response {
    json_response(StatusCode::OK, json::success(|o| o.push_str("[]")))
}
