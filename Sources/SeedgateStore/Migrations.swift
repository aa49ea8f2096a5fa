import Foundation
import SeedgateDomain
import SeedgateSupport
import SQLKit

/// The schema, as an append-only list of steps. Each step runs once, in its own transaction, and is
/// recorded in `schema_migrations`. SQL here is the common subset of SQLite and PostgreSQL: TEXT ids,
/// BIGINT millisecond timestamps, no engine-specific types.
package enum Migrations {
    package static let steps: [[String]] = [
        // 1: keys, groups, tasks, assets
        [
            """
            CREATE TABLE api_keys (
                id TEXT PRIMARY KEY,
                name TEXT NOT NULL,
                secret_hash TEXT NOT NULL UNIQUE,
                created_at BIGINT NOT NULL,
                revoked_at BIGINT
            )
            """,
            """
            CREATE TABLE asset_groups (
                id TEXT PRIMARY KEY,
                key_id TEXT NOT NULL REFERENCES api_keys(id),
                name TEXT NOT NULL,
                description TEXT NOT NULL,
                project_name TEXT NOT NULL,
                is_default INTEGER NOT NULL DEFAULT 0,
                created_at BIGINT NOT NULL
            )
            """,
            "CREATE UNIQUE INDEX asset_groups_one_default ON asset_groups(key_id) WHERE is_default = 1",
            """
            CREATE TABLE tasks (
                id TEXT PRIMARY KEY,
                key_id TEXT NOT NULL REFERENCES api_keys(id),
                kind TEXT NOT NULL,
                group_id TEXT REFERENCES asset_groups(id),
                created_at BIGINT NOT NULL
            )
            """,
            "CREATE INDEX tasks_by_key ON tasks(key_id, created_at)",
            """
            CREATE TABLE assets (
                id TEXT PRIMARY KEY,
                key_id TEXT NOT NULL REFERENCES api_keys(id),
                group_id TEXT NOT NULL REFERENCES asset_groups(id),
                task_id TEXT REFERENCES tasks(id),
                position INTEGER NOT NULL DEFAULT 0,
                name TEXT NOT NULL,
                media_type TEXT NOT NULL,
                source_url TEXT NOT NULL,
                status TEXT NOT NULL,
                failure_code TEXT,
                failure_message TEXT,
                metadata TEXT,
                lease_owner TEXT,
                lease_until BIGINT,
                attempts INTEGER NOT NULL DEFAULT 0,
                created_at BIGINT NOT NULL,
                updated_at BIGINT NOT NULL
            )
            """,
            "CREATE INDEX assets_by_task ON assets(task_id, position)",
            "CREATE INDEX assets_review_queue ON assets(status, lease_until)",
        ],
        // 2: video generation tasks share the tasks table; idempotency keys
        [
            "ALTER TABLE tasks ADD COLUMN status TEXT",
            "ALTER TABLE tasks ADD COLUMN model TEXT",
            "ALTER TABLE tasks ADD COLUMN request TEXT",
            "ALTER TABLE tasks ADD COLUMN progress INTEGER NOT NULL DEFAULT 0",
            "ALTER TABLE tasks ADD COLUMN seed BIGINT",
            "ALTER TABLE tasks ADD COLUMN result TEXT",
            "ALTER TABLE tasks ADD COLUMN error_code TEXT",
            "ALTER TABLE tasks ADD COLUMN error_message TEXT",
            "ALTER TABLE tasks ADD COLUMN started_at BIGINT",
            "ALTER TABLE tasks ADD COLUMN completed_at BIGINT",
            "ALTER TABLE tasks ADD COLUMN purged_at BIGINT",
            "ALTER TABLE tasks ADD COLUMN lease_owner TEXT",
            "ALTER TABLE tasks ADD COLUMN lease_until BIGINT",
            "ALTER TABLE tasks ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0",
            "CREATE INDEX tasks_work_queue ON tasks(kind, status, lease_until)",
            """
            CREATE TABLE idempotency_keys (
                key_id TEXT NOT NULL REFERENCES api_keys(id),
                idempotency_key TEXT NOT NULL,
                body_hash TEXT NOT NULL,
                task_id TEXT NOT NULL REFERENCES tasks(id),
                created_at BIGINT NOT NULL,
                PRIMARY KEY (key_id, idempotency_key)
            )
            """,
        ],
        // 3: credits (balances, holds, ledger), per-key limits, webhooks
        [
            "ALTER TABLE api_keys ADD COLUMN balance BIGINT NOT NULL DEFAULT 0",
            "ALTER TABLE api_keys ADD COLUMN held BIGINT NOT NULL DEFAULT 0",
            "ALTER TABLE api_keys ADD COLUMN rpm INTEGER",
            "ALTER TABLE api_keys ADD COLUMN max_in_flight INTEGER",
            "ALTER TABLE api_keys ADD COLUMN webhook_secret TEXT",
            """
            CREATE TABLE ledger (
                id TEXT PRIMARY KEY,
                key_id TEXT NOT NULL REFERENCES api_keys(id),
                kind TEXT NOT NULL,
                balance_delta BIGINT NOT NULL,
                held_delta BIGINT NOT NULL,
                ref TEXT,
                note TEXT,
                created_at BIGINT NOT NULL
            )
            """,
            // A task's hold, charge and release each happen at most once, whatever races.
            "CREATE UNIQUE INDEX ledger_once ON ledger(ref, kind) WHERE ref IS NOT NULL",
            "CREATE INDEX ledger_by_key ON ledger(key_id, created_at)",
            "ALTER TABLE tasks ADD COLUMN hold BIGINT NOT NULL DEFAULT 0",
            "ALTER TABLE tasks ADD COLUMN cost BIGINT",
            "ALTER TABLE tasks ADD COLUMN callback_url TEXT",
            """
            CREATE TABLE rate_windows (
                key_id TEXT NOT NULL,
                window_start BIGINT NOT NULL,
                hits INTEGER NOT NULL,
                PRIMARY KEY (key_id, window_start)
            )
            """,
            """
            CREATE TABLE webhook_deliveries (
                id TEXT PRIMARY KEY,
                key_id TEXT NOT NULL REFERENCES api_keys(id),
                task_id TEXT NOT NULL REFERENCES tasks(id),
                url TEXT NOT NULL,
                status TEXT NOT NULL,
                attempts INTEGER NOT NULL DEFAULT 0,
                next_attempt_at BIGINT NOT NULL,
                last_status_code INTEGER,
                last_error TEXT,
                delivered_at BIGINT,
                created_at BIGINT NOT NULL,
                lease_owner TEXT,
                lease_until BIGINT
            )
            """,
            "CREATE UNIQUE INDEX webhook_once ON webhook_deliveries(task_id)",
            "CREATE INDEX webhook_queue ON webhook_deliveries(status, next_attempt_at)",
        ],
        // 4: settings shared by every replica (the result-link signing key)
        [
            "CREATE TABLE settings (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
        ],
        // 5: upstream channels: which account runs a task, and per-channel bindings of groups and assets
        [
            "ALTER TABLE tasks ADD COLUMN channel TEXT",
            // The channel a group's assets live on, so assets used together are on one account.
            "ALTER TABLE asset_groups ADD COLUMN channel TEXT",
            "ALTER TABLE tasks ADD COLUMN upstream_id TEXT",
            "ALTER TABLE tasks ADD COLUMN upstream_status TEXT",
            "ALTER TABLE tasks ADD COLUMN next_poll_at BIGINT",
            "ALTER TABLE tasks ADD COLUMN polls INTEGER NOT NULL DEFAULT 0",
            "ALTER TABLE tasks ADD COLUMN deadline_at BIGINT",
            "ALTER TABLE tasks ADD COLUMN usage_tokens BIGINT",
            "ALTER TABLE tasks ADD COLUMN callback_token TEXT",
            "CREATE INDEX tasks_upstream_polls ON tasks(status, next_poll_at) WHERE upstream_id IS NOT NULL",
            """
            CREATE TABLE channel_groups (
                group_id TEXT NOT NULL REFERENCES asset_groups(id),
                channel TEXT NOT NULL,
                upstream_group_id TEXT NOT NULL,
                created_at BIGINT NOT NULL,
                PRIMARY KEY (group_id, channel)
            )
            """,
            """
            CREATE TABLE channel_assets (
                asset_id TEXT NOT NULL REFERENCES assets(id),
                channel TEXT NOT NULL,
                upstream_asset_id TEXT NOT NULL,
                status TEXT NOT NULL,
                created_at BIGINT NOT NULL,
                updated_at BIGINT NOT NULL,
                PRIMARY KEY (asset_id, channel)
            )
            """,
        ],
        // 6: each key's count of unfinished video tasks, kept with its hold so a submission checks its
        // limit without counting the key's tasks
        [
            "ALTER TABLE api_keys ADD COLUMN in_flight INTEGER NOT NULL DEFAULT 0",
            """
            UPDATE api_keys SET in_flight = (
                SELECT COUNT(*) FROM tasks WHERE tasks.key_id = api_keys.id AND tasks.kind = 'video' AND tasks.status IN ('pending', 'processing')
            )
            """,
        ],
        // 7: the dialect a task was made in, so its webhook is rendered in it (NULL: apimart); when a
        // client deleted a finished task's record (Ark's DELETE)
        [
            "ALTER TABLE tasks ADD COLUMN dialect TEXT",
            "ALTER TABLE tasks ADD COLUMN deleted_at BIGINT",
            // the id of the request that made the task, on its workers' log lines
            "ALTER TABLE tasks ADD COLUMN request_id TEXT",
        ],
        // 8: files keys upload (POST /v1/uploads), counted against each key's quota until they expire
        [
            """
            CREATE TABLE uploads (
                id TEXT PRIMARY KEY,
                key_id TEXT NOT NULL REFERENCES api_keys(id),
                blob_key TEXT NOT NULL,
                media_type TEXT NOT NULL,
                size BIGINT NOT NULL,
                content_type TEXT NOT NULL,
                filename TEXT,
                created_at BIGINT NOT NULL,
                expires_at BIGINT NOT NULL
            )
            """,
            "CREATE INDEX uploads_by_key ON uploads(key_id, expires_at)",
            "CREATE INDEX uploads_by_expiry ON uploads(expires_at)",
        ],
        // 9: signed-in console browsers (the cookie's token is kept as its hash), and the index the
        // console's date filters and overview read by
        [
            """
            CREATE TABLE console_sessions (
                token_hash TEXT PRIMARY KEY,
                role TEXT NOT NULL,
                key_id TEXT REFERENCES api_keys(id),
                csrf TEXT NOT NULL,
                created_at BIGINT NOT NULL,
                expires_at BIGINT NOT NULL
            )
            """,
            "CREATE INDEX console_sessions_by_key ON console_sessions(key_id)",
            "CREATE INDEX tasks_by_completion ON tasks(completed_at) WHERE completed_at IS NOT NULL",
            "CREATE INDEX ledger_by_time ON ledger(created_at)",
        ],
        // 10: real-person verification: sessions are tasks of kind 'liveness' (their token, the upstream
        // link, the live photo, when the link was opened); a group made by one is of type LivenessFace.
        // Also the index the console's review-task listing reads by.
        [
            "ALTER TABLE asset_groups ADD COLUMN group_type TEXT NOT NULL DEFAULT 'AIGC'",
            "ALTER TABLE tasks ADD COLUMN verify_token TEXT",
            "ALTER TABLE tasks ADD COLUMN verify_link TEXT",
            "ALTER TABLE tasks ADD COLUMN verify_photo TEXT",
            "ALTER TABLE tasks ADD COLUMN verify_opened_at BIGINT",
            "CREATE UNIQUE INDEX tasks_by_verify_token ON tasks(verify_token) WHERE verify_token IS NOT NULL",
            "CREATE INDEX tasks_by_kind ON tasks(kind, id)",
        ],
        // 11: a channel's running upstream tasks by when they are due, to fill a list call with them.
        [
            "CREATE INDEX tasks_upstream_by_channel ON tasks(channel, status, next_poll_at) WHERE upstream_id IS NOT NULL",
        ],
        // 12: a key's open real-person checks, counted against its limit as each is made. (A photo waiting
        // for the operator waits until `deadline_at` now; those a server of the version before left with
        // the person's deadline are given the operator's window by the sweep, `expireLivenessSessions`.)
        [
            "CREATE INDEX tasks_liveness_by_key ON tasks(key_id, status, deadline_at) WHERE kind = 'liveness'",
        ],
    ]

    package static func apply(on provider: any DatabaseProvider) async throws {
        // On PostgreSQL, replicas starting together take turns under an advisory lock held for each
        // transaction; on SQLite, BEGIN IMMEDIATE already serialises them.
        let lock = provider.flavor == .postgres ? "SELECT pg_advisory_xact_lock(727071)" : nil
        try await provider.transaction { db in
            if let lock { try await db.raw("\(unsafeRaw: lock)").run() }
            try await db.raw("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)").run()
        }
        for (index, statements) in steps.enumerated() {
            let version = index + 1
            try await provider.transaction { db in
                if let lock { try await db.raw("\(unsafeRaw: lock)").run() }
                // Checked inside the transaction so two processes starting together apply each step once.
                let done = try await db.raw("SELECT version FROM schema_migrations WHERE version = \(bind: version)").first()
                guard done == nil else { return }
                for statement in statements {
                    try await db.raw("\(unsafeRaw: statement)").run()
                }
                try await db.raw("INSERT INTO schema_migrations (version, applied_at) VALUES (\(bind: version), \(bind: Epoch.millis(Date())))").run()
            }
        }
    }
}
