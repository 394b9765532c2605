use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "integrators")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub name: String,
    /// The integrator-secret, AES-GCM encrypted with the master key.
    pub secret_enc: String,
    /// The secret it replaced, still accepted and signed with until `previous_secret_expires_at`
    /// (a rotation's overlap); encrypted like `secret_enc`, for its own column.
    pub previous_secret_enc: Option<String>,
    pub previous_secret_expires_at: Option<DateTimeUtc>,
    pub require_signature: bool,
    pub link_orders_allowed: bool,
    /// Are `declined` and `expired` pushed to `resultUpdateUrl` too?
    pub status_pushes: bool,
    /// `none`, `apiKey`, `basic` or `oauth2ClientCredentials`.
    pub callback_auth_type: String,
    /// The callback credentials as JSON, encrypted; `None` for `none`.
    pub callback_auth_enc: Option<String>,
    /// Its organisations' request rate limit (both set) or the server's default (both null).
    pub rate_limit_per_second: Option<i32>,
    pub rate_limit_burst: Option<i32>,
    /// At most this many delivery attempts per second to its targets; null: no such cap.
    pub max_deliveries_per_second: Option<i32>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
