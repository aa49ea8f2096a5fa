#ifndef SEEDGATE_SQLITE_CONFIG_H
#define SEEDGATE_SQLITE_CONFIG_H

struct sqlite3;

/// Turns on SQLite's query planner stability guarantee for one connection: plans no longer depend on
/// bound values, so a prepared statement is not prepared again each time its parameters change.
/// Returns SQLite's result code.
int seedgate_sqlite_enable_qpsg(struct sqlite3 *db);

#endif
