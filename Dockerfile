# Build: docker build -t assessment-partner .
# Run:   docker run -p 8080:8080 -v ap-data:/data \
#          -e AP_MASTER_KEY=$(openssl rand -base64 32) -e AP_ADMIN_JWT_SECRET=$(openssl rand -base64 48) \
#          -e AP_PUBLIC_URL=https://assessments.example.com assessment-partner
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --package assessment-partner

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin ap \
    && mkdir -p /data \
    && chown ap:ap /data
COPY --from=build /src/target/release/assessment-partner /usr/local/bin/assessment-partner
USER ap
WORKDIR /data
# The SQLite database (the default) lives here; with PostgreSQL set DATABASE_URL instead.
VOLUME ["/data"]
ENV AP_ENV=production \
    AP_BIND=0.0.0.0:8080 \
    DATABASE_URL=sqlite:///data/assessment-partner.db?mode=rwc \
    AP_LOG_FORMAT=json
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s --retries=3 \
    CMD curl -fsS http://127.0.0.1:8080/health/live || exit 1
ENTRYPOINT ["assessment-partner"]
CMD ["serve"]
