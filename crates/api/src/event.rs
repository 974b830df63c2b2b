//! The Kubernetes Event type, shared by the state machine (which decides Events), the
//! controller (which records them) and the webhooks (which forward them as `eventType`).

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    Normal,
    Warning,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Normal => "Normal",
            EventType::Warning => "Warning",
        }
    }
}
