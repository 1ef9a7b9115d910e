//! What a database error means to a service.

/// Whether `error` is a unique-key violation whose message names `what` (a column or an
/// index), on either backend.
pub fn is_unique_violation(error: &sqlx::Error, what: &str) -> bool {
    matches!(error, sqlx::Error::Database(db)
        if db.is_unique_violation() && db.message().contains(what))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn other_errors_are_not_unique_violations() {
        assert!(!is_unique_violation(&sqlx::Error::RowNotFound, "id"));
        assert!(!is_unique_violation(
            &sqlx::Error::Protocol("duplicate key".to_owned()),
            "id"
        ));
    }

    #[tokio::test]
    async fn a_taken_key_is_recognised_by_what_it_names() {
        sqlx::any::install_default_drivers();
        let mut db = <sqlx::AnyConnection as sqlx::Connection>::connect("sqlite::memory:")
            .await
            .expect("in-memory database");
        sqlx::query("CREATE TABLE t (id TEXT PRIMARY KEY, tax_code TEXT UNIQUE)")
            .execute(&mut db)
            .await
            .expect("table");
        sqlx::query("INSERT INTO t VALUES ('a', 'X')")
            .execute(&mut db)
            .await
            .expect("first");
        let taken = sqlx::query("INSERT INTO t VALUES ('b', 'X')")
            .execute(&mut db)
            .await
            .expect_err("taken");
        assert!(is_unique_violation(&taken, "tax_code"));
        assert!(!is_unique_violation(&taken, "id"));
    }
}
