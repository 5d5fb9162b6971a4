//! The OpenAPI file and the contract document against the client: every endpoint the client calls is described,
//! nothing else is, and the models have exactly the properties the schemas describe.

use secure_schools_client::models::{BatchRequest, BatchResponse, ErrorBody};
use secure_schools_client::{
    BatchOp, ENDPOINTS, Endpoint, IDEMPOTENCY_KEY_HEADER, MAX_BATCH_OPERATIONS, MAX_PAGE_LIMIT, Me, MembershipRole,
    NewUser, Organisation, Page, User, UserPatch, UserRole, UserStatus,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::collections::BTreeSet;

const OPENAPI: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/secure-schools-api.openapi.json");
const DOC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/secure-schools-api.md");

fn spec() -> Value {
    let text = std::fs::read_to_string(OPENAPI).unwrap_or_else(|e| panic!("{OPENAPI}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{OPENAPI} is not JSON: {e}"))
}

/// Follows a local `$ref` (`#/components/...`), if the value is one.
fn resolve<'a>(spec: &'a Value, v: &'a Value) -> &'a Value {
    match v.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let pointer = r.strip_prefix('#').unwrap_or_else(|| panic!("non-local $ref {r}"));
            spec.pointer(pointer).unwrap_or_else(|| panic!("dangling $ref {r}"))
        }
        None => v,
    }
}

/// The parameters of an operation, path-level ones included, resolved.
fn parameters<'a>(spec: &'a Value, path: &str, method: &str) -> Vec<&'a Value> {
    let item = &spec["paths"][path];
    let shared = item.get("parameters").and_then(Value::as_array).into_iter().flatten();
    let own = item[method].get("parameters").and_then(Value::as_array).into_iter().flatten();
    shared.chain(own).map(|p| resolve(spec, p)).collect()
}

fn has_parameter(params: &[&Value], location: &str, name: &str) -> bool {
    params.iter().any(|p| p["in"] == location && p["name"].as_str().is_some_and(|n| n.eq_ignore_ascii_case(name)))
}

#[test]
fn the_file_is_openapi_3_0() {
    let spec = spec();
    assert_eq!(spec["openapi"], "3.0.3");
    assert!(spec["info"]["description"].as_str().unwrap().contains("ASSUMED"), "the file must say it is assumed");
    assert_eq!(spec["components"]["securitySchemes"]["bearerAuth"]["scheme"], "bearer");
}

#[test]
fn every_endpoint_the_client_calls_is_described_with_its_path_parameters() {
    let spec = spec();
    for endpoint in ENDPOINTS {
        let method = endpoint.method.as_str().to_ascii_lowercase();
        let operation = spec["paths"]
            .get(endpoint.path)
            .and_then(|item| item.get(&method))
            .unwrap_or_else(|| panic!("{endpoint} is called by the client but not described in the OpenAPI file"));
        assert!(operation["responses"].is_object(), "{endpoint} has no responses");
        let params = parameters(&spec, endpoint.path, &method);
        for name in endpoint.parameters() {
            assert!(has_parameter(&params, "path", name), "{endpoint}: path parameter {{{name}}} not declared");
        }
        for code in ["401", "429", "500"] {
            assert!(operation["responses"].get(code).is_some(), "{endpoint}: no {code} response");
        }
    }
}

#[test]
fn the_file_describes_no_endpoint_the_client_does_not_call() {
    let spec = spec();
    let methods = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];
    for (path, item) in spec["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys().filter(|k| methods.contains(&k.as_str())) {
            assert!(
                ENDPOINTS.iter().any(|e| e.path == path && e.method.as_str().eq_ignore_ascii_case(method)),
                "{} {path} is described but the client does not call it",
                method.to_uppercase()
            );
        }
    }
}

#[test]
fn query_parameters_headers_and_limits_agree_with_the_client() {
    let spec = spec();
    let list = parameters(&spec, Endpoint::LIST_USERS.path, "get");
    for name in ["cursor", "limit", "updated_since"] {
        assert!(has_parameter(&list, "query", name), "users: no {name} parameter");
    }
    let limit = list.iter().find(|p| p["name"] == "limit").unwrap();
    assert_eq!(limit["schema"]["maximum"], MAX_PAGE_LIMIT);
    assert!(has_parameter(&parameters(&spec, Endpoint::ORGANISATIONS.path, "get"), "query", "cursor"));
    let batch = parameters(&spec, Endpoint::BATCH.path, "post");
    assert!(has_parameter(&batch, "header", IDEMPOTENCY_KEY_HEADER), "batch: no Idempotency-Key header");
    let operations = &spec["components"]["schemas"]["BatchRequest"]["properties"]["operations"];
    assert_eq!(operations["maxItems"], MAX_BATCH_OPERATIONS);
    let codes = &spec["components"]["schemas"]["ErrorCode"]["enum"];
    for code in ["conflict", "validation_failed", "rate_limited", "not_found", "unauthorized", "forbidden"] {
        assert!(codes.as_array().unwrap().iter().any(|c| c == code), "error code {code} not described");
    }
    let rate_limited = resolve(&spec, &spec["components"]["responses"]["RateLimited"]);
    assert!(rate_limited["headers"].get("Retry-After").is_some());
}

fn schema_enum(spec: &Value, name: &str) -> BTreeSet<String> {
    spec["components"]["schemas"][name]["enum"]
        .as_array()
        .unwrap_or_else(|| panic!("schema {name} has no enum"))
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

fn set(values: &[&str]) -> BTreeSet<String> {
    values.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn enum_values_agree_with_the_client() {
    let spec = spec();
    assert_eq!(schema_enum(&spec, "UserRole"), set(UserRole::KNOWN));
    assert_eq!(schema_enum(&spec, "UserStatus"), set(UserStatus::KNOWN));
    assert_eq!(schema_enum(&spec, "MembershipRole"), set(MembershipRole::KNOWN));
    let ops: Vec<String> =
        BatchOp::ALL.iter().map(|op| serde_json::to_value(op).unwrap().as_str().unwrap().to_owned()).collect();
    assert_eq!(schema_enum(&spec, "BatchOp"), ops.into_iter().collect());
}

/// Decodes an example from the file with the client's type and writes it back: the example must decode, and what
/// the client writes must be described by the schema.
fn roundtrip<T: DeserializeOwned + Serialize>(spec: &Value, pointer: &str) -> Value {
    let example = spec.pointer(pointer).unwrap_or_else(|| panic!("no example at {pointer}"));
    let typed: T = serde_json::from_value(example.clone())
        .unwrap_or_else(|e| panic!("the example at {pointer} does not decode as {}: {e}", std::any::type_name::<T>()));
    serde_json::to_value(typed).unwrap()
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().unwrap_or_else(|| panic!("not an object: {v}")).keys().cloned().collect()
}

fn properties(spec: &Value, schema: &str) -> BTreeSet<String> {
    keys(&spec["components"]["schemas"][schema]["properties"])
}

fn example(path: &str, method: &str, status: Option<&str>) -> String {
    let path = path.replace('~', "~0").replace('/', "~1");
    match status {
        Some(s) => format!("/paths/{path}/{method}/responses/{s}/content/application~1json/example"),
        None => format!("/paths/{path}/{method}/requestBody/content/application~1json/example"),
    }
}

#[test]
fn the_models_have_exactly_the_properties_the_schemas_describe() {
    let spec = spec();

    let me = roundtrip::<Me>(&spec, &example("/me", "get", Some("200")));
    assert_eq!(keys(&me), properties(&spec, "Me"));
    assert_eq!(keys(&me["memberships"][0]), properties(&spec, "Membership"));

    let orgs = roundtrip::<Page<Organisation>>(&spec, &example("/organisations", "get", Some("200")));
    assert_eq!(keys(&orgs), properties(&spec, "OrganisationPage"));
    assert_eq!(keys(&orgs["data"][0]), properties(&spec, "Organisation"));

    let users = roundtrip::<Page<User>>(&spec, &example("/organisations/{org}/users", "get", Some("200")));
    assert_eq!(keys(&users), properties(&spec, "UserPage"));
    assert_eq!(keys(&users["data"][0]), properties(&spec, "User"));

    let created = roundtrip::<User>(&spec, &example("/organisations/{org}/users", "post", Some("201")));
    assert_eq!(keys(&created), properties(&spec, "User"));
    let new = roundtrip::<NewUser>(&spec, &example("/organisations/{org}/users", "post", None));
    assert_eq!(keys(&new), properties(&spec, "NewUser"));

    let patch = roundtrip::<UserPatch>(&spec, &example("/organisations/{org}/users/{id}", "patch", None));
    assert!(keys(&patch).is_subset(&properties(&spec, "UserPatch")));
    let full = UserPatch::new()
        .email("e")
        .first_name("f")
        .last_name("l")
        .role(UserRole::Staff)
        .status(UserStatus::Active)
        .external_id(Some("x".into()))
        .managed_by_sync(true);
    assert_eq!(keys(&serde_json::to_value(full).unwrap()), properties(&spec, "UserPatch"));
    let updated = roundtrip::<User>(&spec, &example("/organisations/{org}/users/{id}", "patch", Some("200")));
    assert_eq!(keys(&updated), properties(&spec, "User"));

    let batch = roundtrip::<BatchRequest>(&spec, &example("/organisations/{org}/users/batch", "post", None));
    assert_eq!(keys(&batch), properties(&spec, "BatchRequest"));
    let ops = batch["operations"].as_array().unwrap();
    let op_keys: BTreeSet<String> = ops.iter().flat_map(keys).collect();
    assert_eq!(op_keys, properties(&spec, "BatchOperation"));

    let answer = roundtrip::<BatchResponse>(&spec, &example("/organisations/{org}/users/batch", "post", Some("200")));
    assert_eq!(keys(&answer), properties(&spec, "BatchResponse"));
    let result_keys: BTreeSet<String> = answer["results"].as_array().unwrap().iter().flat_map(keys).collect();
    assert_eq!(result_keys, properties(&spec, "BatchResult"));

    for response in ["Unauthorized", "Forbidden", "NotFound", "Conflict", "ValidationFailed", "RateLimited", "Internal"]
    {
        let pointer = format!("/components/responses/{response}/content/application~1json/example");
        let body = roundtrip::<ErrorBody>(&spec, &pointer);
        assert_eq!(keys(&body), properties(&spec, "ErrorBody"));
        assert!(keys(&body["error"]).is_subset(&properties(&spec, "ErrorDetail")));
    }
    let conflict = roundtrip::<ErrorBody>(&spec, "/components/responses/Conflict/content/application~1json/example");
    assert_eq!(keys(&conflict["error"]), properties(&spec, "ErrorDetail"));
}

#[test]
fn the_contract_document_says_it_is_assumed_and_names_every_endpoint() {
    let doc = std::fs::read_to_string(DOC).unwrap_or_else(|e| panic!("{DOC}: {e}"));
    let opening: String = doc.lines().take(15).collect::<Vec<_>>().join("\n").to_lowercase();
    assert!(opening.contains("assumed"), "the top of the document must say the contract is assumed");
    assert!(doc.contains("## Adapting to the real platform"));
    for endpoint in ENDPOINTS {
        assert!(doc.contains(&endpoint.to_string()), "docs/secure-schools-api.md does not describe `{endpoint}`");
    }
}
