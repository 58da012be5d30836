use super::*;

const EXAMPLE: &str = include_str!("../../relay.example.toml");

fn with_site(extra: &str) -> String {
    format!(
        "[server]\nadmin_token = \"0123456789abcdef\"\n[[site]]\nid = \"38342\"\npkey = \"pk\"\n\
         tagging_hash = \"IYIhaCDSPfPoVd4FIEF1\"\nwebhook_token = \"tok-0123456789abcdef\"\n{extra}"
    )
}

/// Keys of the example that show a sample value rather than a default (required keys, and the
/// credentials and origins a site fills in), as `section.key`.
const SAMPLES: [&str; 6] = [
    "server.admin_token",
    "site.id",
    "site.webhook_token",
    "site.pkey",
    "site.tagging_hash",
    "site.allowed_origins",
];

fn table<T: serde::Serialize>(value: &T) -> toml::Table {
    toml::Table::try_from(value).expect("settings serialise to TOML")
}

#[test]
fn the_example_file_shows_every_key_with_its_default() {
    let example: toml::Table = toml::from_str(EXAMPLE).unwrap();
    let site = Config::parse(&with_site("")).unwrap().site.remove(0);
    let sections = [
        ("server", table(&Server::default())),
        ("storage", table(&Storage::default())),
        ("rtbhouse", table(&RtbHouse::default())),
        ("site", table(&site)),
    ];
    let mut problems = Vec::new();
    for (name, defaults) in &sections {
        let shown = match &example[*name] {
            toml::Value::Array(sites) => sites[0].as_table().unwrap().clone(),
            value => value.as_table().unwrap().clone(),
        };
        for (key, default) in defaults {
            let path = format!("{name}.{key}");
            match shown.get(key) {
                None => problems.push(format!("{path}: missing from the example")),
                Some(_) if SAMPLES.contains(&path.as_str()) => {}
                Some(value) if value != default => problems.push(format!(
                    "{path}: the example shows {value}, the default is {default}"
                )),
                Some(_) => {}
            }
        }
        for key in shown.keys().filter(|k| !defaults.contains_key(*k)) {
            problems.push(format!("{name}.{key}: in the example, not a setting"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn example_file_is_valid_and_shows_the_defaults() {
    let config = Config::parse(EXAMPLE).expect("relay.example.toml must validate");
    let site = &config.site[0];
    assert_eq!(config.server.listen, "127.0.0.1:8080");
    assert_eq!(config.storage.url, "sqlite://aidlink.db");
    assert_eq!(config.rtbhouse.timeout_ms, 3000);
    assert_eq!(config.rtbhouse.retry_for(), Duration::from_secs(24 * 3600));
    assert_eq!(config.rtbhouse.concurrency, RtbHouse::default().concurrency);
    assert_eq!(config.storage.retention, Storage::default().retention);
    assert_eq!(config.storage.retention(), Duration::from_secs(90 * 86_400));
    let server = Server::default();
    assert_eq!(
        (
            config.server.webhook_max_bytes,
            config.server.header_read_timeout_ms,
            config.server.body_read_timeout_ms,
            config.server.idle_timeout_ms,
            config.server.max_connections,
            config.server.shutdown_grace_ms,
        ),
        (
            server.webhook_max_bytes,
            server.header_read_timeout_ms,
            server.body_read_timeout_ms,
            server.idle_timeout_ms,
            server.max_connections,
            server.shutdown_grace_ms,
        ),
        "the example shows the server defaults"
    );
    assert_eq!(site.metrics, vec![Metric::AllCalls]);
    assert_eq!(site.attribution, Attribution::LastNonDirect);
    assert_eq!(site.region, Region::Omni);
    assert!(site.enabled);
    assert_eq!(site.dedup, Dedup::Default);
    assert_eq!(
        site.rtbhouse_sources,
        ["rtbhouse", "rtb-house", "rtb_house"]
    );
    assert_eq!(site.call_value, "");
    assert_eq!(site.request_value, "");
    // Every key the contract names appears in the example.
    for key in [
        "listen",
        "admin_token",
        "url",
        "endpoint",
        "timeout_ms",
        "retry_for",
        "retention",
        "concurrency",
        "webhook_max_bytes",
        "header_read_timeout_ms",
        "body_read_timeout_ms",
        "idle_timeout_ms",
        "max_connections",
        "shutdown_grace_ms",
        "id",
        "enabled",
        "pkey",
        "tagging_hash",
        "region",
        "webhook_token",
        "allowed_origins",
        "webhook_ip_allow",
        "metrics",
        "tags",
        "traffic",
        "attribution",
        "attr_key",
        "dedup",
        "rtbhouse_sources",
        "call_value",
        "request_value",
    ] {
        assert!(
            EXAMPLE.contains(&format!("\n{key} =")),
            "{key} missing from the example"
        );
    }
}

#[test]
fn minimal_site_gets_the_contract_defaults() {
    let config = Config::parse(&with_site("")).unwrap();
    let site = config.site("38342").unwrap();
    assert!(site.enabled);
    assert_eq!(site.metrics, vec![Metric::AllCalls]);
    assert_eq!(site.tags, TagFilter::default());
    assert_eq!(site.attr_key, "__r_aid_v__");
    assert_eq!(site.dedup, Dedup::Default);
    assert_eq!(
        site.rtbhouse_sources,
        ["rtbhouse", "rtb-house", "rtb_house"]
    );
    assert_eq!(
        (site.call_value.as_str(), site.request_value.as_str()),
        ("", "")
    );
    assert_eq!(config.server.assets_dir, PathBuf::from("dist/script"));
    assert!(config.site("1").is_none());
}

#[test]
fn every_problem_is_reported_with_its_key_path() {
    let text = "[server]\nlisten = \"nowhere\"\nadmin_token = \"short\"\n\
        [storage]\nurl = \"mysql://x\"\nretention = \"2h\"\n[rtbhouse]\nretry_for = \"soon\"\nconcurrency = 0\n\
        [[site]]\nid = \"38342\"\npkey = \"\"\ntagging_hash = \"tooshort\"\nwebhook_token = \"t\"\n\
        allowed_origins = [\"https://ok.example\", \"https://shop.example/path\"]\n\
        [[site]]\nid = \"38342\"\npkey = \"p\"\ntagging_hash = \"IYIhaCDSPfPoVd4FIEF1\"\n\
        webhook_token = \"tok-0123456789abcdef\"\n";
    let lines = Config::parse(text).unwrap_err().lines();
    let expected = [
        "server.listen: must be an address like 127.0.0.1:8080",
        "server.admin_token: required, at least 16 characters",
        "storage.url: must be sqlite://PATH or postgres://user:password@host:port/database",
        "storage.retention: at least 1d: leads are delivered or dead-lettered within a day",
        "rtbhouse.concurrency: must be 1 to 1024",
        "rtbhouse.retry_for: not a duration (\"24h\", \"90m\")",
        "site[0].tagging_hash: must be 20 letters or digits",
        "site[0].webhook_token: required, at least 16 characters",
        "site[0].allowed_origins[1]: must be scheme://host[:port] with no path",
        "site[1].id: duplicate site id \"38342\"",
    ];
    assert_eq!(lines, expected);
}

#[test]
fn unknown_keys_and_bad_enum_values_name_the_key() {
    let err = Config::parse(&with_site("metrics = [\"all_calls\", \"every_call\"]\n")).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.starts_with("site[0].metrics[1]: unknown variant `every_call`, expected one of")
            && msg.ends_with("(line 8)"),
        "{msg}"
    );
    let err = Config::parse(&with_site("enabeld = false\n"))
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("site[0].enabeld: unknown field `enabeld`") && err.ends_with("(line 8)"),
        "the key path, and the line of a key at the start of its line: {err}"
    );
    let err = Config::parse(&with_site(
        "traffic = [{ field = \"utm_source\", op = \"regex\", value = \"x\" }]\n",
    ))
    .unwrap_err()
    .to_string();
    assert!(
        err.starts_with("site[0].traffic[0].op: unknown variant `regex`"),
        "{err}"
    );
    let err = Config::parse("[server]\nadmin_token = \"unterminated\n")
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("line 2: "),
        "syntax errors: the line: {err}"
    );
}

#[test]
fn secret_values_are_never_echoed_in_messages() {
    let cases = [
        (
            with_site("").replace("pkey = \"pk\"", "pkey = 98765432123"),
            "site[0].pkey: invalid type: integer (value hidden), expected a string (line 5)",
        ),
        (
            with_site("").replace(
                "webhook_token = \"tok-0123456789abcdef\"",
                "webhook_token = 1234567890123456789",
            ),
            "site[0].webhook_token: invalid type: integer (value hidden), expected a string (line 7)",
        ),
        (
            with_site("").replace(
                "admin_token = \"0123456789abcdef\"",
                "admin_token = 31415926535897932",
            ),
            "server.admin_token: invalid type: integer (value hidden), expected a string (line 2)",
        ),
    ];
    for (text, expected) in cases {
        let lines = Config::parse(&text).unwrap_err().lines();
        assert_eq!(lines, [expected]);
    }
    let other = Config::parse(&with_site("enabled = 42\n"))
        .unwrap_err()
        .to_string();
    assert!(
        other.contains("integer `42`"),
        "values of other keys still shown: {other}"
    );
}

#[test]
fn credentials_not_set_yet_are_valid_with_a_warning_each() {
    let warning = "not set: this site's leads are recorded as misconfigured, nothing is sent";
    let no_pkey = with_site("").replace("pkey = \"pk\"\n", "");
    let config = Config::parse(&no_pkey).expect("a site without its PKEY yet is valid");
    assert_eq!(config.site[0].pkey, "");
    let lines: Vec<String> = config.warnings().iter().map(|w| w.to_string()).collect();
    assert_eq!(lines, [format!("site[0].pkey: {warning}")]);
    assert!(config.problems().is_empty());
    let neither = with_site("")
        .replace("pkey = \"pk\"", "pkey = \"\"")
        .replace(
            "tagging_hash = \"IYIhaCDSPfPoVd4FIEF1\"",
            "tagging_hash = \" \"",
        );
    let config = Config::parse(&neither).expect("empty strings are not set either");
    let paths: Vec<String> = config.warnings().into_iter().map(|w| w.path).collect();
    assert_eq!(paths, ["site[0].pkey", "site[0].tagging_hash"]);
    assert_eq!(
        config.site[0].unset_credentials().collect::<Vec<_>>(),
        ["pkey", "tagging_hash"]
    );
    let off = Config::parse(&format!("{neither}enabled = false\n")).unwrap();
    assert!(
        off.warnings().is_empty(),
        "a site switched off sends nothing anyway"
    );
    let complete = Config::parse(&with_site("")).unwrap();
    assert!(complete.warnings().is_empty());
    assert_eq!(complete.site[0].unset_credentials().count(), 0);
}

#[test]
fn a_malformed_tagging_hash_is_still_refused_with_its_key_path() {
    for hash in [
        "tooshort",
        "IYIhaCDSPfPoVd4FIEF1x",
        "IYIhaCDSPfPoVd4FIEF-",
        " IYIhaCDSPfPoVd4FIEF",
    ] {
        let text = with_site("")
            .replace("pkey = \"pk\"\n", "")
            .replace("IYIhaCDSPfPoVd4FIEF1", hash);
        let lines = Config::parse(&text).unwrap_err().lines();
        assert_eq!(
            lines,
            ["site[0].tagging_hash: must be 20 letters or digits"],
            "{hash:?}"
        );
    }
}

#[test]
fn filters_parse() {
    let config = Config::parse(&with_site(
        "metrics = [\"target_calls\", \"requests\"]\ntags = { names = [\"VIP\"], match = \"all\" }\n\
         traffic = [{ field = \"utm_source\", op = \"not_contains\", value = \"Google\" }]\n\
         attribution = \"first_click\"\nregion = \"asia\"\nwebhook_ip_allow = [\"92.118.66.0/23\"]\n",
    ))
    .unwrap();
    let site = &config.site[0];
    assert_eq!(site.metrics, vec![Metric::TargetCalls, Metric::Requests]);
    assert_eq!(site.tags.r#match, TagMatch::All);
    assert_eq!(site.traffic[0].op, TrafficOp::NotContains);
    assert_eq!(site.attribution, Attribution::FirstClick);
    assert_eq!(site.region.as_str(), "asia");
    assert!(site.webhook_ip_allow[0].contains(&"92.118.67.1".parse::<std::net::IpAddr>().unwrap()));
}

#[test]
fn debug_output_hides_secrets() {
    let config = Config::parse(&with_site("")).unwrap();
    let shown = format!("{config:?}");
    assert!(!shown.contains("0123456789abcdef"), "{shown}");
    assert!(!shown.contains("tok-0123456789abcdef"));
    assert!(!shown.contains("\"pk\""));
    assert!(shown.contains("(set, hidden)"));
}

#[test]
fn unreadable_file_names_the_path() {
    let err = Config::load(Path::new("/nonexistent/relay.toml")).unwrap_err();
    assert!(err
        .to_string()
        .starts_with("/nonexistent/relay.toml: cannot read"));
}

#[test]
fn values_are_decimals_with_a_dot_and_at_most_two_decimals() {
    let rule = "must be a decimal ≥ 0 with a dot and at most 2 decimals, e.g. \"1500\" or \"1500.50\"; \"\" = none";
    for good in ["", "0", "1500", "1500.5", "1500.50", "0.99"] {
        let text = with_site(&format!(
            "call_value = \"{good}\"\nrequest_value = \"{good}\"\n"
        ));
        let config = Config::parse(&text).unwrap_or_else(|e| panic!("{good:?}: {e}"));
        assert_eq!(config.site[0].call_value, good);
        assert_eq!(config.site[0].request_value, good);
    }
    for bad in [
        "-1", "1,5", "1.234", "abc", " 1", "1 ", "1.", ".5", "1e3", "+1", "1.2.3",
    ] {
        let lines = Config::parse(&with_site(&format!("call_value = \"{bad}\"\n")))
            .unwrap_err()
            .lines();
        assert_eq!(lines, [format!("site[0].call_value: {rule}")], "{bad:?}");
        let lines = Config::parse(&with_site(&format!("request_value = \"{bad}\"\n")))
            .unwrap_err()
            .lines();
        assert_eq!(lines, [format!("site[0].request_value: {rule}")], "{bad:?}");
    }
}

#[test]
fn dedup_and_rtbhouse_sources_parse_and_are_checked() {
    let config = Config::parse(&with_site(
        "dedup = \"attribution\"\nrtbhouse_sources = [\"RTB-House\", \"rtbh\"]\n",
    ))
    .unwrap();
    assert_eq!(config.site[0].dedup, Dedup::Attribution);
    assert_eq!(config.site[0].rtbhouse_sources, ["RTB-House", "rtbh"]);
    let err = Config::parse(&with_site("dedup = \"segmentstream\"\n"))
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("site[0].dedup: unknown variant `segmentstream`"),
        "{err}"
    );
    let lines = Config::parse(&with_site("rtbhouse_sources = [\"rtbhouse\", \" \"]\n"))
        .unwrap_err()
        .lines();
    assert_eq!(lines, ["site[0].rtbhouse_sources[1]: must not be empty"]);
    let lines = Config::parse(&with_site(
        "dedup = \"attribution\"\nrtbhouse_sources = []\n",
    ))
    .unwrap_err()
    .lines();
    assert_eq!(
        lines,
        ["site[0].rtbhouse_sources: must name at least one source when dedup = \"attribution\""]
    );
    assert!(
        Config::parse(&with_site("rtbhouse_sources = []\n")).is_ok(),
        "unused under dedup = \"default\""
    );
}

#[test]
fn retry_for_is_at_most_24_hours() {
    let retry = |value: &str| {
        Config::parse(&format!(
            "{}[rtbhouse]\nretry_for = \"{value}\"\n",
            with_site("")
        ))
    };
    for ok in ["24h", "1day", "90m", "86400s"] {
        assert!(retry(ok).is_ok(), "{ok}");
    }
    for too_long in ["25h", "24h 1s", "2days"] {
        assert_eq!(
            retry(too_long).unwrap_err().lines(),
            ["rtbhouse.retry_for: at most 24h: RTB House refuses conversions older than 24 hours"],
            "{too_long}"
        );
    }
}

#[test]
fn connection_limits_out_of_range_are_named_by_key() {
    let text = with_site("").replace(
        "[server]\n",
        "[server]\nwebhook_max_bytes = 10\nheader_read_timeout_ms = 0\nbody_read_timeout_ms = 0\n\
         idle_timeout_ms = 9999999\nmax_connections = 0\nshutdown_grace_ms = 400000\n",
    );
    let lines = Config::parse(&text).unwrap_err().lines();
    for key in [
        "server.webhook_max_bytes",
        "server.header_read_timeout_ms",
        "server.body_read_timeout_ms",
        "server.idle_timeout_ms",
        "server.max_connections",
        "server.shutdown_grace_ms",
    ] {
        assert!(
            lines.iter().any(|l| l.starts_with(&format!("{key}: "))),
            "{key} not reported: {lines:?}"
        );
    }
    let config = Config::parse(&with_site("")).unwrap();
    assert_eq!(config.server.webhook_max_bytes, 65_536);
    assert_eq!(config.server.max_connections, 512);
    assert_eq!(config.server.max_connections_per_ip, 64);
    assert!(
        config.server.shutdown_grace() < Duration::from_secs(20),
        "below the unit's TimeoutStopSec"
    );
}

/// The keys of a TOML document, `section.key` (array tables by their name), in order.
fn keys(text: &str) -> Vec<String> {
    let table: toml::Table = toml::from_str(text).expect("valid TOML");
    let mut out = Vec::new();
    for (section, value) in &table {
        let inner = match value {
            toml::Value::Table(t) => t.clone(),
            toml::Value::Array(a) => a[0].as_table().cloned().unwrap_or_default(),
            _ => continue,
        };
        out.extend(inner.keys().map(|k| format!("{section}.{k}")));
    }
    out.sort();
    out
}

#[test]
fn the_public_contract_names_every_key_of_the_example() {
    let contract = include_str!("../../../docs/contract.md");
    let block = contract
        .split("## The relay's configuration")
        .nth(1)
        .and_then(|rest| rest.split("```toml\n").nth(1))
        .and_then(|rest| rest.split("```").next())
        .expect("docs/contract.md has the configuration block");
    let mut example = keys(EXAMPLE);
    // Shown commented out in both (it has no default): not a key of either document.
    example.retain(|k| k != "server.static_dir");
    assert_eq!(keys(block), example);
}

#[test]
fn postgres_storage_and_its_pool_are_checked_with_their_key_paths() {
    let ok = with_site("[storage]\nurl = \"postgres://aidlink:secret@db:5432/aidlink\"\n");
    let config = Config::parse(&ok).expect("a postgres:// URL is a valid storage");
    assert_eq!(config.storage.pool_size, 16);
    let tls = with_site("[storage]\nurl = \"postgres://aidlink@db/aidlink?sslmode=require\"\n");
    Config::parse(&tls).expect("TLS, the certificate checked against the usual roots");
    let text = with_site(
        "[storage]\nurl = \"postgres://aidlink@db/aidlink?sslmode=require&sslrootcert=/nonexistent/ca.pem\"\n\
         pool_size = 0\nstatement_timeout_ms = 5\n",
    );
    let lines = Config::parse(&text).unwrap_err().lines();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(
        lines[0].starts_with("storage.url: sslrootcert /nonexistent/ca.pem: "),
        "{lines:?}"
    );
    assert_eq!(lines[1], "storage.pool_size: must be 1 to 256");
    assert_eq!(
        lines[2],
        "storage.statement_timeout_ms: must be 100 to 600000 (ms)"
    );
}
