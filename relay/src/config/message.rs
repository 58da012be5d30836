//! What a configuration problem says, as a closed set: one [`Message`] per rule of
//! [`super::Config::problems`] and [`super::Config::warnings`], plus the few the operator's
//! screen adds while reading its form (a network that does not parse, a choice that is not one
//! of the list). English is what `check-config` and the logs print, after the key path; the
//! operator's screen shows the same message in English or Russian beside its field.

use std::borrow::Cow;
use std::fmt;

/// One configuration message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// `server.listen` is not an address.
    ListenAddress,
    /// A token (`server.admin_token`, `site.webhook_token`) is missing or shorter than 16.
    TokenLength,
    /// A count that must be positive is 0.
    AtLeastOne,
    /// `server.webhook_max_bytes` out of range.
    WebhookMaxBytes,
    /// A timeout in ms out of range.
    TimeoutMs,
    /// `server.max_connections` out of range.
    MaxConnections,
    /// `server.shutdown_grace_ms` too long.
    ShutdownGrace,
    /// `server.admin_session_idle` not a duration, or out of range.
    SessionIdle,
    /// `storage.url` is neither `sqlite://PATH` nor a usable `postgres://` URL; the detail says
    /// what is wrong with it (English).
    StorageUrl(String),
    /// `storage.pool_size` out of range.
    PoolSize,
    /// `storage.retention` shorter than a day.
    RetentionTooShort,
    /// `storage.retention` not a duration.
    RetentionDuration,
    /// `rtbhouse.concurrency` out of range.
    Concurrency,
    /// `rtbhouse.endpoint` not an http(s) URL.
    HttpUrl,
    /// `rtbhouse.retry_for` not a duration.
    RetryForDuration,
    /// `rtbhouse.retry_for` over 24 hours.
    RetryForTooLong,
    /// `rtbhouse.retry_cap_ms` below `retry_base_ms`, or the base 0.
    RetryCap,
    /// `site.id` is not a Calltouch site id.
    SiteId,
    /// `site.id` repeats an earlier site's.
    DuplicateSite(String),
    /// `site.tagging_hash` set but not 20 letters or digits.
    TaggingHash,
    /// An origin with a path, or not http(s).
    Origin,
    /// A list entry (tag, source) that is blank.
    NotEmpty,
    /// `dedup = "attribution"` with no RTB House source named.
    NeedsRtbHouseSource,
    /// A conversion value RTB House cannot read.
    Value,
    /// Warning: an RTB House credential is not set yet.
    NotSet,
    /// The screen's form: an entry that is not a network (`92.118.66.0/23`).
    Network,
    /// The screen's form: a value that is not one of the offered choices.
    Choice,
}

/// What a conversion value must look like.
const VALUE_EN: &str =
    "must be a decimal ≥ 0 with a dot and at most 2 decimals, e.g. \"1500\" or \"1500.50\"; \"\" = none";
const VALUE_RU: &str =
    "десятичное число ≥ 0 с точкой и не более 2 знаков после неё, например «1500» или «1500.50»; пусто = без значения";

impl Message {
    /// The English text (what `check-config` prints after the key path).
    pub fn en(&self) -> Cow<'static, str> {
        Cow::Borrowed(match self {
            Message::ListenAddress => "must be an address like 127.0.0.1:8080",
            Message::TokenLength => "required, at least 16 characters",
            Message::AtLeastOne => "must be at least 1",
            Message::WebhookMaxBytes => "must be 1024 to 2097152 (Calltouch webhooks are a few KB)",
            Message::TimeoutMs => "must be 100 to 600000 (ms)",
            Message::MaxConnections => "must be 1 to 65536",
            Message::ShutdownGrace => {
                "at most 300000 (5 min); keep systemd's TimeoutStopSec above it"
            }
            Message::SessionIdle => "must be a duration from 1m to 7d (\"30m\", \"8h\")",
            Message::StorageUrl(why) => return Cow::Owned(why.clone()),
            Message::PoolSize => "must be 1 to 256",
            Message::RetentionTooShort => {
                "at least 1d: leads are delivered or dead-lettered within a day"
            }
            Message::RetentionDuration => "not a duration (\"90d\", \"30days\")",
            Message::Concurrency => "must be 1 to 1024",
            Message::HttpUrl => "must be an http(s) URL",
            Message::RetryForDuration => "not a duration (\"24h\", \"90m\")",
            Message::RetryForTooLong => {
                "at most 24h: RTB House refuses conversions older than 24 hours"
            }
            Message::RetryCap => "must be ≥ retry_base_ms ≥ 1",
            Message::SiteId => "must be the numeric Calltouch site id",
            Message::DuplicateSite(id) => {
                return Cow::Owned(format!("duplicate site id \"{id}\""));
            }
            Message::TaggingHash => "must be 20 letters or digits",
            Message::Origin => "must be scheme://host[:port] with no path",
            Message::NotEmpty => "must not be empty",
            Message::NeedsRtbHouseSource => {
                "must name at least one source when dedup = \"attribution\""
            }
            Message::Value => VALUE_EN,
            Message::NotSet => {
                "not set: this site's leads are recorded as misconfigured, nothing is sent"
            }
            Message::Network => "must be a network such as 92.118.66.0/23 or an address",
            Message::Choice => "must be one of the offered choices",
        })
    }

    /// The Russian text (the operator's screen).
    pub fn ru(&self) -> Cow<'static, str> {
        Cow::Borrowed(match self {
            Message::ListenAddress => "нужен адрес вида 127.0.0.1:8080",
            Message::TokenLength => "обязательно, не короче 16 символов",
            Message::AtLeastOne => "не меньше 1",
            Message::WebhookMaxBytes => "от 1024 до 2097152 (вебхуки Calltouch — несколько КБ)",
            Message::TimeoutMs => "от 100 до 600000 (мс)",
            Message::MaxConnections => "от 1 до 65536",
            Message::ShutdownGrace => {
                "не больше 300000 (5 мин); TimeoutStopSec в systemd должен быть больше"
            }
            Message::SessionIdle => "длительность от 1m до 7d («30m», «8h»)",
            Message::StorageUrl(why) => {
                return Cow::Owned(format!(
                    "нужно sqlite://ПУТЬ или postgres://пользователь:пароль@хост:порт/база ({why})"
                ));
            }
            Message::PoolSize => "от 1 до 256",
            Message::RetentionTooShort => {
                "не меньше 1d: заявки доставляются или уходят в мёртвые письма за сутки"
            }
            Message::RetentionDuration => "не длительность («90d», «30days»)",
            Message::Concurrency => "от 1 до 1024",
            Message::HttpUrl => "нужен адрес http(s)",
            Message::RetryForDuration => "не длительность («24h», «90m»)",
            Message::RetryForTooLong => {
                "не больше 24h: RTB House не принимает конверсии старше 24 часов"
            }
            Message::RetryCap => "должно быть ≥ retry_base_ms ≥ 1",
            Message::SiteId => "нужен числовой id сайта в Calltouch",
            Message::DuplicateSite(id) => {
                return Cow::Owned(format!("сайт «{id}» уже есть"));
            }
            Message::TaggingHash => "ровно 20 латинских букв или цифр",
            Message::Origin => "нужно схема://хост[:порт] без пути",
            Message::NotEmpty => "не может быть пустым",
            Message::NeedsRtbHouseSource => {
                "укажите хотя бы один источник, если dedup = «attribution»"
            }
            Message::Value => VALUE_RU,
            Message::NotSet => {
                "не задано: заявки сайта записываются как misconfigured, ничего не отправляется"
            }
            Message::Network => "нужна сеть вида 92.118.66.0/23 или адрес",
            Message::Choice => "нужно выбрать одно из предложенных значений",
        })
    }
}

impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.en())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_message_has_both_languages_and_they_differ() {
        let all = [
            Message::ListenAddress,
            Message::TokenLength,
            Message::AtLeastOne,
            Message::WebhookMaxBytes,
            Message::TimeoutMs,
            Message::MaxConnections,
            Message::ShutdownGrace,
            Message::SessionIdle,
            Message::StorageUrl("must be sqlite://PATH".into()),
            Message::PoolSize,
            Message::RetentionTooShort,
            Message::RetentionDuration,
            Message::Concurrency,
            Message::HttpUrl,
            Message::RetryForDuration,
            Message::RetryForTooLong,
            Message::RetryCap,
            Message::SiteId,
            Message::DuplicateSite("1".into()),
            Message::TaggingHash,
            Message::Origin,
            Message::NotEmpty,
            Message::NeedsRtbHouseSource,
            Message::Value,
            Message::NotSet,
            Message::Network,
            Message::Choice,
        ];
        for m in all {
            assert!(!m.en().is_empty() && !m.ru().is_empty(), "{m:?}");
            assert_ne!(m.en(), m.ru(), "{m:?}");
            assert_eq!(m.to_string(), m.en(), "Display is the English");
        }
    }
}
