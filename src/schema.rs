//! OpenAPI schema pieces that the surfaces' types use in their `ToSchema` definitions (the
//! document itself is assembled in `openapi.rs`, above the surfaces).

/// A string schema that allows exactly `values`, for fields whose values come from the code
/// (the catalogue, the outbox's states and kinds), so the document follows the code.
pub fn string_enum<S: Into<String>>(values: impl IntoIterator<Item = S>) -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(values.into_iter().map(Into::into)))
        .build()
}
