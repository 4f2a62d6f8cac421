//! [`RpcError`]: a JSON-RPC error a server answers a request with, built up while handling it
//! and turned into the response at the end.

use serde_json::Value;

use crate::{ErrorObjectOwned, Id, MetaError, ParamsError, error_code, error_response};

/// A JSON-RPC error to answer a request with.
#[derive(Debug, Clone, PartialEq)]
pub struct RpcError {
    /// The JSON-RPC error code.
    pub code: i32,
    /// What the client is told.
    pub message: String,
    /// The error's `data`, if any.
    pub data: Option<Value>,
}

impl RpcError {
    /// An error with `code` and `message`, without data.
    pub fn new(code: i32, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            data: None,
        }
    }

    /// `-32602` (invalid params).
    pub fn invalid_params(message: impl Into<String>) -> Self {
        Self::new(error_code::INVALID_PARAMS, message)
    }

    /// The same error with `data`.
    #[must_use]
    pub fn with_data(mut self, data: Value) -> Self {
        self.data = Some(data);
        self
    }

    /// The error a JSON-RPC error object describes.
    pub fn from_object(object: &ErrorObjectOwned) -> Self {
        Self {
            code: object.code(),
            message: object.message().to_owned(),
            data: object
                .data()
                .and_then(|raw| serde_json::from_str(raw.get()).ok()),
        }
    }

    /// The error response for the request `id`.
    pub fn response(&self, id: &Id<'_>) -> Value {
        error_response(id, self.code, &self.message, self.data.clone())
    }
}

impl From<MetaError> for RpcError {
    fn from(error: MetaError) -> Self {
        Self::from_object(&error.error_object())
    }
}

impl From<ParamsError> for RpcError {
    fn from(error: ParamsError) -> Self {
        Self::invalid_params(error.to_string())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn an_error_keeps_its_code_message_and_data_into_the_response() {
        let error = RpcError::from(MetaError::UnsupportedVersion {
            requested: "v9".to_owned(),
        });
        assert_eq!(error.code, error_code::UNSUPPORTED_PROTOCOL_VERSION);
        assert_eq!(
            error.data.as_ref().map(|d| &d["requested"]),
            Some(&json!("v9"))
        );
        let response = RpcError::invalid_params("bad")
            .with_data(json!({"uri": "x"}))
            .response(&Id::Number(7));
        assert_eq!(
            response,
            json!({"jsonrpc": "2.0", "id": 7, "error": {"code": -32602, "message": "bad", "data": {"uri": "x"}}})
        );
    }
}
