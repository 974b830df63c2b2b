//! Parsing of Kubernetes API URL paths into what they address. Pure and table-tested; it knows
//! the URL grammar of the real API server and nothing about the objects.

/// What an `/api/...` or `/apis/...` path addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiPath {
    /// `/api` (legacy core group list) or `/apis` (group list).
    Root { core: bool },
    /// `/apis/<group>`.
    Group { group: String },
    /// `/api/v1`, `/apis/<group>/<version>`: the resource list.
    GroupVersion { group: String, version: String },
    /// A collection, an object, or an object's subresource.
    Resource(ResourcePath),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourcePath {
    pub group: String,
    pub version: String,
    pub plural: String,
    /// From `/namespaces/<ns>/...`; `None` for cluster-scoped paths and all-namespace lists.
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub subresource: Option<String>,
}

/// Parse a path. `is_namespaced_plural(group, version, plural)` tells whether a plural is a
/// namespaced resource of that group version, to tell `/namespaces/<ns>/<plural>` from the
/// `namespaces` resource's own subresources (`/namespaces/<name>/status`).
pub fn parse(
    path: &str,
    is_namespaced_plural: impl Fn(&str, &str, &str) -> bool,
) -> Option<ApiPath> {
    let segs: Vec<&str> = path
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let (group, version, rest) = match segs.as_slice() {
        ["api"] => return Some(ApiPath::Root { core: true }),
        ["apis"] => return Some(ApiPath::Root { core: false }),
        ["apis", g] => {
            return Some(ApiPath::Group {
                group: g.to_string(),
            });
        }
        ["api", v, rest @ ..] => ("", *v, rest),
        ["apis", g, v, rest @ ..] => (*g, *v, rest),
        _ => return None,
    };
    let (group, version) = (group.to_string(), version.to_string());
    let rp = |namespace: Option<&str>, plural: &str, name: Option<&str>, sub: Option<&str>| {
        ApiPath::Resource(ResourcePath {
            group: group.clone(),
            version: version.clone(),
            plural: plural.to_string(),
            namespace: namespace.map(String::from),
            name: name.map(String::from),
            subresource: sub.map(String::from),
        })
    };
    let namespaced = |p: &str| is_namespaced_plural(&group, &version, p);
    Some(match rest {
        [] => ApiPath::GroupVersion {
            group: group.clone(),
            version: version.clone(),
        },
        ["namespaces", ns, plural, tail @ ..] if namespaced(plural) => match tail {
            [] => rp(Some(ns), plural, None, None),
            [name] => rp(Some(ns), plural, Some(name), None),
            [name, sub] => rp(Some(ns), plural, Some(name), Some(sub)),
            _ => return None,
        },
        [plural] => rp(None, plural, None, None),
        [plural, name] => rp(None, plural, Some(name), None),
        [plural, name, sub] => rp(None, plural, Some(name), Some(sub)),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(path: &str) -> Option<ApiPath> {
        parse(path, |_, _, plural| {
            plural != "namespaces" && plural != "status" && plural != "finalize"
        })
    }

    fn res(
        g: &str,
        plural: &str,
        ns: Option<&str>,
        name: Option<&str>,
        sub: Option<&str>,
    ) -> Option<ApiPath> {
        Some(ApiPath::Resource(ResourcePath {
            group: g.into(),
            version: "v1".into(),
            plural: plural.into(),
            namespace: ns.map(String::from),
            name: name.map(String::from),
            subresource: sub.map(String::from),
        }))
    }

    #[test]
    fn paths() {
        assert_eq!(p("/api"), Some(ApiPath::Root { core: true }));
        assert_eq!(p("/apis/"), Some(ApiPath::Root { core: false }));
        assert_eq!(
            p("/apis/apps"),
            Some(ApiPath::Group {
                group: "apps".into()
            })
        );
        assert_eq!(
            p("/api/v1"),
            Some(ApiPath::GroupVersion {
                group: "".into(),
                version: "v1".into()
            })
        );
        assert_eq!(
            p("/api/v1/namespaces"),
            res("", "namespaces", None, None, None)
        );
        assert_eq!(
            p("/api/v1/namespaces/test"),
            res("", "namespaces", None, Some("test"), None)
        );
        assert_eq!(
            p("/api/v1/namespaces/test/status"),
            res("", "namespaces", None, Some("test"), Some("status"))
        );
        assert_eq!(
            p("/api/v1/namespaces/test/configmaps"),
            res("", "configmaps", Some("test"), None, None)
        );
        assert_eq!(
            p("/apis/apps/v1/deployments"),
            res("apps", "deployments", None, None, None)
        );
        assert_eq!(
            p("/apis/apps/v1/namespaces/t/deployments/d/scale"),
            res("apps", "deployments", Some("t"), Some("d"), Some("scale"))
        );
        assert_eq!(p("/apis/apps/v1/namespaces/t/deployments/d/scale/x"), None);
        assert_eq!(p("/healthz"), None);
    }
}
