use skua_fleet::{ConstraintsError, Deadline, HourSet, PlanConstraints};

#[test]
fn full_example_parses() {
    let c = PlanConstraints::from_toml(
        r#"
        duration = "1h"
        group_by = "cluster"
        max_concurrent = 2
        allowed_hours = "0-6,22-23"
        deadline = "+20h"
        [groups.eu-west]
        max_concurrent = 1
        [[servers]]
        match = "db-*"
        allowed_hours = "1-5"
        "#,
    )
    .unwrap();
    assert_eq!(c.duration, 3600);
    assert_eq!(c.horizon, 86_400);
    assert_eq!(c.group_by.as_deref(), Some("cluster"));
    assert_eq!(c.limit_of("eu-west"), Some(1));
    assert_eq!(c.limit_of("us-east"), Some(2));
    assert_eq!(c.deadline, Some(Deadline::After(20 * 3600)));
    assert_eq!(
        c.for_server("db-3").allowed_hours,
        HourSet::parse("1-5").unwrap()
    );
    assert_eq!(
        c.for_server("web").allowed_hours,
        HourSet::parse("0-6,22-23").unwrap()
    );
    assert_eq!(
        PlanConstraints::from_toml("").unwrap(),
        PlanConstraints::default()
    );
}

#[test]
fn unknown_field_is_named() {
    let err =
        PlanConstraints::from_toml("duration = \"1h\"\nallowed_hour = \"1-5\"\n").unwrap_err();
    assert!(matches!(err, ConstraintsError::Toml(_)));
    insta::assert_snapshot!("unknown_field", err.to_string());
}

#[test]
fn wrong_type_is_named() {
    let err = PlanConstraints::from_toml("max_concurrent = \"two\"\n").unwrap_err();
    assert!(err.to_string().contains("max_concurrent"), "{err}");
}

#[test]
fn invalid_values_are_all_reported() {
    let err = PlanConstraints::from_toml(
        r#"
        duration = "an hour"
        max_concurrent = 0
        allowed_hours = "0-24"
        deadline = "tomorrow"
        [groups.eu-west]
        max_concurrent = -1
        [[servers]]
        match = ""
        allowed_hours = "5-"
        "#,
    )
    .unwrap_err();
    let ConstraintsError::Invalid(issues) = &err else {
        panic!("expected Invalid, got {err:?}");
    };
    let fields: Vec<&str> = issues.iter().map(|i| i.field.as_str()).collect();
    for f in [
        "duration",
        "max_concurrent",
        "groups.eu-west.max_concurrent",
        "allowed_hours",
        "deadline",
        "servers[0].match",
        "servers[0].allowed_hours",
    ] {
        assert!(fields.contains(&f), "{f} not in {fields:?}");
    }
    insta::assert_snapshot!("invalid_values", err.to_string());
}
