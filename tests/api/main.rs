//! Black-box tests: each starts the real server on a random port with a fresh database
//! (SQLite by default; PostgreSQL when AP_TEST_DATABASE_URL is set) and talks HTTP to it.
mod admin;
mod ashby;
mod browser;
mod callback_auth;
mod candidate;
mod communications;
mod console;
mod console_pages;
mod delivery;
mod gentle;
mod health;
mod helpers;
mod hygiene;
mod limits;
mod logs;
mod openapi;
mod operators;
mod orders;
mod personal_data;
mod receiver;
mod results;
mod rotation;
mod sandbox;
mod scale_out;
mod signatures;
mod test_push;
