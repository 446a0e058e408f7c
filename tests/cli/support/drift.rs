//! An example pool after changes made by hand in the admin console.

use serde_json::json;

use super::{Env, user};

/// Examples applied, then changed by hand: Sam renamed, Priya deleted, a kiosk user and
/// an extra member added in the admin console.
pub fn drifted() -> Env {
    let mut env = Env::examples();
    env.start_lab(&[]);
    assert_eq!(env.run(&["apply", "--yes"]).code, 0);
    let t = env.tenant("C01hx42kd");
    let mut sam = user(&t, "sam@hillsideyouth.org").expect("sam").clone();
    sam["name"]["fullName"] = json!("Samuel Okafor");
    env.lab_post(
        "/_lab/seed",
        &json!({"customer_id": "C01hx42kd", "users": [sam]}),
    );
    env.lab_post(
        "/_lab/seed",
        &json!({
            "customer_id": "C03az79cb",
            "delete_users": ["priya@riversidefood.org"],
            "users": [{"primaryEmail": "kiosk@riversidefood.org", "name": {"fullName": "Front <b>Kiosk</b>"}, "orgUnitPath": "/"}],
            "members": [{"group": "staff@riversidefood.org", "email": "kiosk@riversidefood.org"}],
        }),
    );
    env
}
