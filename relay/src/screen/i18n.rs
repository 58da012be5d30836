//! Every string of the operator's screen, in Russian (the default) and English (`?lang=en`,
//! remembered in a cookie), in one table. The English labels of controls are the ones
//! docs/contract.md promises to outside tests. A `{0}` in a text is filled by [`Lang::fill`].
//! Configuration problems have their own two languages ([`crate::config::Message`]).

/// The screen's language.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Lang {
    /// Russian: the default.
    #[default]
    Ru,
    /// English.
    En,
}

impl Lang {
    /// `ru` / `en` (the `lang` attribute, the query parameter and the cookie value).
    pub fn code(self) -> &'static str {
        match self {
            Lang::Ru => "ru",
            Lang::En => "en",
        }
    }

    /// Reads `ru` / `en`.
    pub fn parse(code: &str) -> Option<Lang> {
        match code {
            "ru" => Some(Lang::Ru),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// The text in this language.
    pub fn t(self, text: T) -> &'static str {
        match self {
            Lang::Ru => text.ru(),
            Lang::En => text.en(),
        }
    }

    /// The text with `{0}` replaced by `arg`.
    pub fn fill(self, text: T, arg: &str) -> String {
        self.t(text).replace("{0}", arg)
    }
}

macro_rules! texts {
    ($($name:ident => $ru:expr, $en:expr;)*) => {
        /// One string of the screen.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        #[allow(missing_docs)]
        pub enum T { $($name,)* }

        impl T {
            /// Every string, for the test that each has both languages.
            pub const ALL: &'static [T] = &[$(T::$name,)*];
            /// Russian.
            pub fn ru(self) -> &'static str { match self { $(T::$name => $ru,)* } }
            /// English.
            pub fn en(self) -> &'static str { match self { $(T::$name => $en,)* } }
        }
    };
}

texts! {
    AppTitle => "aidlink — настройки", "aidlink — settings";
    SkipToContent => "Перейти к содержимому", "Skip to content";
    Language => "Язык", "Language";
    SignIn => "Войти", "Sign in";
    SignOut => "Выйти", "Sign out";
    AdminToken => "Токен администратора", "Admin token";
    SignInHint => "Токен — это server.admin_token из файла конфигурации релея.", "The token is server.admin_token from the relay's config file.";
    WrongToken => "Неверный токен.", "Wrong token.";
    TooManySignIns => "Слишком много неудачных попыток входа с этого адреса. Повторите через {0} с.", "Too many failed sign-ins from this address. Try again in {0} s.";
    SessionEnded => "Сеанс завершён или истёк — войдите снова.", "Your session has ended; sign in again.";
    Sites => "Сайты", "Sites";
    AllSites => "← Все сайты", "← All sites";
    AddSite => "Добавить сайт", "Add site";
    SiteId => "ID сайта", "Site id";
    SiteIdHint => "Числовой id сайта в Calltouch.", "The numeric Calltouch site id.";
    ColSite => "Сайт", "Site";
    ColIntegration => "Интеграция", "Integration";
    ColSettingsFrom => "Действуют настройки", "Settings in effect";
    On => "включена", "on";
    Off => "выключена", "off";
    FromFile => "из файла конфигурации", "from the config file";
    FromScreen => "сохранённые здесь", "saved here";
    FromScreenFileDiffers => "сохранённые здесь (в файле другие)", "saved here (the file's differ)";
    ScreenOnly => "сохранённые здесь (сайт добавлен здесь)", "saved here (site added here)";
    NoSites => "Сайтов пока нет: добавьте первый.", "No sites yet: add the first one.";
    Settings => "Настройки", "Settings";
    LeadLog => "Журнал заявок", "Lead log";
    LiveView => "Онлайн", "Live view";
    TestLead => "Проверка заявки", "Test lead";
    SiteTitle => "Сайт {0}", "Site {0}";
    NewSite => "Новый сайт", "New site";
    PrecedenceNote => "Настройки, сохранённые на этом экране, целиком заменяют настройки этого сайта из файла конфигурации; файл остаётся начальной настройкой.", "Settings saved on this screen replace this site's settings from the config file as a whole; the file stays the bootstrap.";
    FileOnlyNote => "Сейчас действуют настройки из файла конфигурации. После сохранения здесь будут действовать сохранённые.", "The config file's settings apply now. Once saved here, the saved ones apply.";
    SavedNote => "Действуют настройки, сохранённые на этом экране.", "The settings saved on this screen apply.";
    FileDiffersNote => "В файле конфигурации для этого сайта другие настройки; действуют сохранённые здесь.", "The config file has other settings for this site; the ones saved here apply.";
    ScreenOnlyNote => "Сайт добавлен на этом экране: его настройки есть только в хранилище релея.", "This site was added on this screen: its settings exist only in the relay's storage.";
    Saved => "Сохранено. Новые настройки действуют со следующего вебхука.", "Saved. The new settings apply from the next webhook.";
    NotSaved => "Не сохранено: исправьте отмеченные поля.", "Not saved: fix the fields marked below.";
    ErrorsSummary => "Исправьте:", "Please fix:";
    WebhookUrl => "Адрес вебхука", "Webhook URL";
    WebhookUrlHint => "Вставьте в Calltouch (интеграции → вебхуки), для звонков и для заявок.", "Paste into Calltouch (integrations → webhooks), for calls and for requests.";
    ScriptTag => "Тег скрипта", "Script tag";
    ScriptTagHint => "Вставьте на каждую страницу сайта после тегов RTB House и Calltouch; добавьте data-mod-id с mod_id Calltouch.", "Paste into every page of the site after the RTB House and Calltouch tags; add data-mod-id with your Calltouch mod_id.";
    Copy => "Копировать", "Copy";
    Copied => "Скопировано", "Copied";
    Pkey => "PKEY", "PKEY";
    PkeyHint => "Только запись: оставьте пустым, чтобы не менять.", "Write-only: leave empty to keep it.";
    PkeySet => "Сейчас задан: {0}", "Currently set: {0}";
    PkeyUnset => "Не задан: заявки записываются как misconfigured:pkey.", "Not set: leads are recorded misconfigured:pkey.";
    TaggingHash => "Хеш рекламодателя (ADVERTISER TAGGING HASH)", "Advertiser tagging hash";
    TaggingHashHint => "20 латинских букв или цифр.", "20 letters or digits.";
    Region => "Регион", "Region";
    Metrics => "Метрики", "Metrics";
    MetricsNote => "Целевые, уникально-целевые и неуспешные звонки отправляются только после окончания звонка.", "Target, unique-target and failed calls are sent only after the call ends.";
    AllCalls => "Все звонки", "All calls";
    UniqueCalls => "Уникальные звонки", "Unique calls";
    TargetCalls => "Целевые звонки", "Target calls";
    UniqueTargetCalls => "Уникально-целевые звонки", "Unique target calls";
    FailedCalls => "Неуспешные звонки", "Failed calls";
    AllRequests => "Все заявки", "All requests";
    UniqueRequests => "Уникальные заявки", "Unique requests";
    TargetRequests => "Целевые заявки", "Target requests";
    UniqueTargetRequests => "Уникально-целевые заявки", "Unique target requests";
    Tags => "Теги", "Tags";
    TagsHint => "Через запятую; пусто — без фильтра по тегам.", "Comma-separated; empty = no tag filter.";
    TagMatch => "Совпадение тегов", "Tag match";
    TagAny => "любой", "any";
    TagAll => "все", "all";
    TagsNote => "Учитываются только теги, которые есть у звонка на момент его окончания.", "Only tags present at the end of the call count.";
    TrafficConditions => "Условия по трафику", "Traffic conditions";
    TrafficNote => "Должны выполняться все; сравнение без учёта регистра по источнику заявки в выбранной модели атрибуции. Строка без поля не учитывается.", "All must hold; compared case-insensitively on the lead's source under the attribution model. A row without a field is ignored.";
    Field => "Поле", "Field";
    Operator => "Оператор", "Operator";
    Value => "Значение", "Value";
    NoField => "— не задано —", "— none —";
    AddCondition => "Добавить условие", "Add condition";
    RemoveCondition => "Удалить условие", "Remove condition";
    OpEquals => "равно", "equals";
    OpNotEquals => "не равно", "not equals";
    OpContains => "содержит", "contains";
    OpNotContains => "не содержит", "does not contain";
    AttributionModel => "Модель атрибуции", "Attribution model";
    LastNonDirect => "Последний непрямой", "Last non-direct";
    LastClick => "Последнее взаимодействие", "Last click";
    FirstClick => "Первое взаимодействие", "First click";
    IntegrationEnabled => "Интеграция включена", "Integration enabled";
    MoreSettings => "Дополнительно", "More settings";
    Dedup => "Флаг cd для RTB House (dedup)", "cd sent to RTB House (dedup)";
    DedupDefault => "default: решает RTB House", "default: RTB House decides";
    DedupAttribution => "attribution: по источнику заявки", "attribution: from the lead's source";
    RtbHouseSources => "Источники, означающие RTB House", "Sources that mean RTB House";
    CommaSeparated => "Через запятую.", "Comma-separated.";
    CallValue => "Ценность звонка", "Call value";
    RequestValue => "Ценность заявки", "Request value";
    ValueHint => "Например 1500 или 1500.50; пусто — без значения.", "E.g. 1500 or 1500.50; empty = none.";
    AllowedOrigins => "Разрешённые origins страниц", "Allowed origins";
    AllowedOriginsHint => "По одному на строку, например https://shop.example.", "One a line, e.g. https://shop.example.";
    WebhookIpAllow => "Разрешённые адреса вебхука", "Webhook IP allow-list";
    WebhookIpAllowHint => "Сети по одной на строку, например 92.118.66.0/23; пусто — любые.", "Networks one a line, e.g. 92.118.66.0/23; empty = any.";
    AttrKey => "Ключ в attrs Calltouch", "Key in Calltouch attrs";
    Save => "Сохранить", "Save";
    Audit => "Журнал изменений", "Audit trail";
    When => "Когда", "When";
    Who => "Кто", "Who";
    WhatChanged => "Что изменилось", "What changed";
    NoChange => "без изменений", "no change";
    NoAudit => "На этом экране настройки сайта ещё не меняли.", "No changes made on this screen yet.";
    Status => "Статус", "Status";
    AllStatuses => "все", "all";
    Show => "Показать", "Show";
    StatusNew => "новая", "new";
    StatusWaiting => "ждёт конца звонка", "waiting";
    StatusFiltered => "не отправляется", "filtered";
    StatusRetrying => "в очереди", "retrying";
    StatusSent => "отправлена", "sent";
    StatusDead => "не доставлена", "dead";
    ColLead => "Заявка", "Lead";
    ColDecision => "Решение", "Decision";
    ColAttempts => "Попыток", "Attempts";
    ColLastHttp => "Последний HTTP", "Last HTTP status";
    ColChanged => "Изменена", "Changed";
    ColAction => "Действие", "Action";
    Retry => "Повторить", "Retry";
    Older => "Ранее →", "Older →";
    Newest => "← К новым", "← Newest";
    NoLeads => "Заявок нет.", "No leads.";
    Requeued => "{0} снова в очереди: релей отправит её в течение секунды.", "{0} is queued again: the relay sends it within a second.";
    RetryTooOld => "{0} не поставлена в очередь: ей больше 24 часов, RTB House такие не принимает (aidlink-relay replay --force всё же ставит её).", "{0} not re-queued: it is more than 24 hours old and RTB House refuses those (aidlink-relay replay --force re-queues it anyway).";
    RetryNotDead => "{0} не в мёртвых письмах: повторять нечего.", "{0} is not a dead letter: nothing to retry.";
    LeadTitle => "Заявка {0}", "Lead {0}";
    Decision => "Решение", "Decision";
    IdSource => "Откуда RTB House id", "RTB House id from";
    JudgedSource => "Источник, по которому судили", "Source judged on";
    CdSent => "Отправленный cd", "cd sent";
    LeadFacts => "Данные заявки", "Lead facts";
    Events => "События", "Events";
    Received => "Получено", "Received";
    Phase => "Фаза", "Phase";
    NotDecided => "ещё не решено", "not decided yet";
    DeliveryAttempts => "Попытки отправки", "Delivery attempts";
    Time => "Время", "Time";
    HttpStatus => "HTTP", "HTTP";
    ErrorOrResponse => "Ошибка или ответ", "Error or response";
    MaskedUrl => "Адрес (PKEY скрыт)", "URL (PKEY masked)";
    NoAttempts => "Попыток не было.", "No attempts.";
    ReasonQueued => "Все правила выполнены: постбэк поставлен в очередь в RTB House.", "Every rule passed: the postback was queued for RTB House.";
    ReasonSwitchedOff => "Правило «интеграция включена»: интеграция выключена.", "Rule \"integration enabled\": the integration is switched off.";
    ReasonMisconfigured => "Правило «PKEY и хеш заданы»: не задан {0}, ничего не отправляется.", "Rule \"PKEY and tagging hash set\": {0} is not set, nothing is sent.";
    ReasonNoRtbId => "Правило «есть RTB House id»: нет ни привязки сессии, ни id в attrs.", "Rule \"RTB House id known\": no binding of the session and no id in attrs.";
    ReasonWaiting => "Правило «звонок окончен»: фильтры зависят от конца звонка, ждём его.", "Rule \"call ended\": the filters need the end of the call; waiting for it.";
    ReasonMetric => "Правило «метрики»: ни одна выбранная метрика не подошла.", "Rule \"metrics\": no selected metric matched.";
    ReasonTags => "Правило «теги»: теги звонка не подошли.", "Rule \"tags\": the lead's tags did not match.";
    ReasonTraffic => "Правило «условия по трафику»: не выполнено условие по полю {0}.", "Rule \"traffic conditions\": the condition on {0} did not hold.";
    ReasonAlreadyQueued => "Постбэк уже был в очереди: событие записано без нового решения.", "Its postback was queued already: the event was recorded without a new decision.";
    RuleSwitch => "Интеграция включена", "Integration enabled";
    RuleCredentials => "PKEY и хеш заданы", "PKEY and tagging hash set";
    RuleRtbId => "Есть RTB House id", "RTB House id known";
    RuleCallEnd => "Звонок окончен, если фильтрам это нужно", "Call ended, when the filters need it";
    RuleMetrics => "Подходит выбранная метрика", "A selected metric matches";
    RuleTags => "Теги подходят", "Tags match";
    RuleTraffic => "Условие: {0}", "Condition: {0}";
    Rule => "Правило", "Rule";
    Outcome => "Итог", "Outcome";
    Pass => "выполнено", "pass";
    Fail => "не выполнено", "fail";
    TestLeadIntro => "Заполните звонок или заявку и нажмите «Проверить»: правила применяются так же, как к настоящей заявке, но ничего не сохраняется и не отправляется.", "Fill in a call or a request and press Check: the rules apply exactly as to a real lead, and nothing is stored or sent.";
    PickRecent => "Или возьмите недавнюю настоящую:", "Or pick a recent real one:";
    LeadType => "Тип заявки", "Lead type";
    KindCall => "звонок", "call";
    KindRequest => "заявка с сайта", "web-form request";
    LeadNumber => "ID звонка или заявки", "Call or request id";
    CallPhase => "Фаза звонка", "Call phase";
    CallEnded => "звонок окончен", "call ended";
    CallStarted => "звонок начался", "call started";
    CallStatus => "Результат звонка", "Call status";
    Successful => "успешный", "successful";
    Unsuccessful => "неуспешный", "unsuccessful";
    Unique => "Уникальный", "Unique";
    Target => "Целевой", "Target";
    UniqueTarget => "Уникально-целевой", "Unique target";
    LeadTags => "Теги звонка или заявки", "The lead's tags";
    SourceFields => "Источник заявки (как его видит модель атрибуции)", "The lead's source (as the attribution model sees it)";
    RtbId => "RTB House id (пусто — нет)", "RTB House id (empty = none)";
    EventTime => "Время события, unix-секунды (пусто — сейчас)", "Event time, unix seconds (empty = now)";
    Check => "Проверить", "Check";
    Result => "Результат", "Result";
    WouldSend => "Постбэк, который ушёл бы (PKEY скрыт):", "The postback that would go out (PKEY masked):";
    WouldNotSend => "Постбэк не ушёл бы.", "No postback would go out.";
    NothingStored => "Ничего не сохранено и не отправлено.", "Nothing was stored or sent.";
    LiveNote => "Обновляется само каждые 3 секунды; счётчики идут шагами по 10 минут.", "Updates by itself every 3 seconds; counts move in 10-minute steps.";
    LastHour => "За час", "Last hour";
    LastDay => "За сутки", "Last 24 hours";
    Bindings => "Привязки", "Bindings";
    LeadsByDecision => "Заявки по решению: {0}", "Leads by decision: {0}";
    PostbacksByOutcome => "Постбэки по итогу: {0}", "Postbacks by outcome: {0}";
    Counts => "Счётчики", "Counts";
    Count => "Что", "What";
    OutboxDepth => "Постбэков в очереди", "Postbacks queued";
    OldestPending => "Самый старый ждёт", "Oldest pending for";
    Nothing => "нет", "none";
    Seconds => "{0} с", "{0} s";
    RecentEvents => "Последние 50 событий", "Last 50 events";
    EventWebhook => "вебхук", "webhook";
    EventAttempt => "постбэк", "postback";
    NoEvents => "Событий пока нет.", "No events yet.";
    UpdatedAt => "Обновлено: {0}", "Updated: {0}";
    ErrCsrf => "Отказано: форма пришла без действующего токена CSRF этого сеанса. Обновите страницу и повторите.", "Refused: the form did not carry this session's CSRF token. Reload the page and try again.";
    ErrNotFound => "Не найдено.", "Not found.";
    ErrStorage => "Хранилище релея недоступно; повторите чуть позже.", "The relay's storage is unavailable; try again shortly.";
    ErrBadRequest => "Неверный запрос: {0}", "Bad request: {0}";
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Texts that are the same in both languages on purpose (names, codes).
    const SAME: [T; 3] = [T::Pkey, T::HttpStatus, T::AppTitle];

    #[test]
    fn every_string_exists_in_both_languages() {
        for &text in T::ALL {
            assert!(!text.ru().is_empty() && !text.en().is_empty(), "{text:?}");
            if !SAME.contains(&text) {
                assert_ne!(text.ru(), text.en(), "{text:?} is not translated");
            }
            assert_eq!(
                text.ru().contains("{0}"),
                text.en().contains("{0}"),
                "{text:?}: both or neither take an argument"
            );
        }
    }

    #[test]
    fn the_contracts_english_labels_are_exact() {
        let labels = [
            (T::AdminToken, "Admin token"),
            (T::SignIn, "Sign in"),
            (T::SignOut, "Sign out"),
            (T::AddSite, "Add site"),
            (T::SiteId, "Site id"),
            (T::Pkey, "PKEY"),
            (T::TaggingHash, "Advertiser tagging hash"),
            (T::Region, "Region"),
            (T::AllCalls, "All calls"),
            (T::UniqueCalls, "Unique calls"),
            (T::TargetCalls, "Target calls"),
            (T::UniqueTargetCalls, "Unique target calls"),
            (T::FailedCalls, "Failed calls"),
            (T::AllRequests, "All requests"),
            (T::UniqueRequests, "Unique requests"),
            (T::TargetRequests, "Target requests"),
            (T::UniqueTargetRequests, "Unique target requests"),
            (T::Tags, "Tags"),
            (T::TagMatch, "Tag match"),
            (T::AddCondition, "Add condition"),
            (T::Field, "Field"),
            (T::Operator, "Operator"),
            (T::Value, "Value"),
            (T::RemoveCondition, "Remove condition"),
            (T::AttributionModel, "Attribution model"),
            (T::IntegrationEnabled, "Integration enabled"),
            (T::Save, "Save"),
            (T::WebhookUrl, "Webhook URL"),
            (T::ScriptTag, "Script tag"),
            (T::Status, "Status"),
            (T::Retry, "Retry"),
            (T::Check, "Check"),
        ];
        for (text, label) in labels {
            assert_eq!(Lang::En.t(text), label);
        }
        assert_eq!(Lang::default(), Lang::Ru);
        assert_eq!(Lang::Ru.fill(T::SiteTitle, "38342"), "Сайт 38342");
    }
}
