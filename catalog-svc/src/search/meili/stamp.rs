//! The stamp of the live index's content, kept in Meilisearch beside it: one document in the
//! index `<uid>__state`. A cursor stored in the catalogue applies to the index only while both
//! bear the same stamp, so an index lost, recreated or replaced by hand is noticed and rebuilt
//! rather than followed from a position it never reached.

use meilisearch_sdk::errors::{Error as MeiliError, ErrorCode};
use serde::{Deserialize, Serialize};

use super::{MeiliIndex, engine};
use crate::search::IndexError;

/// The id of the stamp's document.
const STAMP_ID: &str = "stamp";

#[derive(Debug, Serialize, Deserialize)]
struct StampDocument {
    id: String,
    stamp: String,
}

impl MeiliIndex {
    /// The uid of the index holding the live index's stamp.
    pub fn state_uid(&self) -> String {
        format!("{}__state", self.uid)
    }

    /// The stamp of the live index, if it has one (none when either index is missing).
    pub(super) async fn read_stamp(&self) -> Result<Option<String>, IndexError> {
        let read = self
            .client
            .index(self.state_uid())
            .get_document::<StampDocument>(STAMP_ID)
            .await;
        match read {
            Ok(document) => {
                // A stamp without the index it describes describes nothing.
                match self.client.index(&self.uid).get_stats().await {
                    Ok(_) => Ok(Some(document.stamp)),
                    Err(error) if is_not_found(&error) => Ok(None),
                    Err(error) => Err(engine(error)),
                }
            }
            Err(error) if is_not_found(&error) => Ok(None),
            Err(error) => Err(engine(error)),
        }
    }

    /// Stamps the live index's content.
    pub(super) async fn write_stamp(&self, stamp: &str) -> Result<(), IndexError> {
        let uid = self.state_uid();
        let document = StampDocument {
            id: STAMP_ID.to_owned(),
            stamp: stamp.to_owned(),
        };
        let task = self
            .client
            .index(&uid)
            .add_or_replace(&[document], Some("id"))
            .await
            .map_err(engine)?;
        self.finished(task, "stamp index").await
    }
}

impl MeiliIndex {
    /// Forgets the live index's stamp: its writer finds out within a minute and rebuilds it
    /// (an operator's rebuild while a catalogue is serving).
    pub async fn forget_stamp(&self) -> Result<(), IndexError> {
        self.drop_index(&self.state_uid()).await
    }
}

fn is_not_found(error: &MeiliError) -> bool {
    matches!(error, MeiliError::Meilisearch(e)
        if matches!(e.error_code, ErrorCode::DocumentNotFound | ErrorCode::IndexNotFound))
}
