//! RBAC for the fake API server: loads ClusterRoles, Roles and their
//! bindings from a multi-document YAML file (the shipped
//! `deploy/base/rbac.yaml`) and decides requests the way the real
//! authorizer does: allowed only if some binding of the user grants the
//! verb on the group/resource (and name, when the rule lists names).

use serde::Deserialize;

/// Who is asking.
#[derive(Clone, Debug)]
pub struct User {
    /// e.g. `system:serviceaccount:nodewatch:nodewatch`.
    pub name: String,
    /// e.g. `system:serviceaccounts`.
    pub groups: Vec<String>,
}

impl User {
    /// The user a ServiceAccount token stands for.
    pub fn service_account(namespace: &str, name: &str) -> Self {
        User {
            name: format!("system:serviceaccount:{namespace}:{name}"),
            groups: vec![
                "system:serviceaccounts".into(),
                format!("system:serviceaccounts:{namespace}"),
                "system:authenticated".into(),
            ],
        }
    }
}

/// What a request wants, as the authorizer sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct Attributes {
    /// `get`, `list`, `watch`, `create`, `update`, `patch`, `delete`.
    pub verb: String,
    /// API group (`""` for core).
    pub group: String,
    /// Plural resource, with `/subresource` when there is one.
    pub resource: String,
    /// Namespace (`""` for cluster-scoped or all namespaces).
    pub namespace: String,
    /// Object name (`""` for collections).
    pub name: String,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct Rule {
    api_groups: Vec<String>,
    resources: Vec<String>,
    verbs: Vec<String>,
    resource_names: Vec<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
struct Meta {
    name: String,
    namespace: String,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
struct RoleRef {
    kind: String,
    name: String,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
struct Subject {
    kind: String,
    name: String,
    namespace: String,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct Doc {
    kind: String,
    metadata: Meta,
    rules: Vec<Rule>,
    role_ref: RoleRef,
    subjects: Vec<Subject>,
}

/// The loaded policy.
#[derive(Clone, Debug, Default)]
pub struct Rbac {
    docs: Vec<Doc>,
}

fn any(list: &[String], want: &str) -> bool {
    list.iter().any(|x| x == "*" || x == want)
}

impl Rule {
    fn grants(&self, a: &Attributes) -> bool {
        any(&self.api_groups, &a.group)
            && any(&self.resources, &a.resource)
            && any(&self.verbs, &a.verb)
            && (self.resource_names.is_empty()
                || (!a.name.is_empty() && self.resource_names.contains(&a.name)))
    }
}

impl Subject {
    fn matches(&self, u: &User) -> bool {
        match self.kind.as_str() {
            "ServiceAccount" => {
                u.name == format!("system:serviceaccount:{}:{}", self.namespace, self.name)
            }
            "User" => u.name == self.name,
            "Group" => u.groups.contains(&self.name),
            _ => false,
        }
    }
}

impl Rbac {
    /// Parses every document of `yaml`; kinds other than roles and
    /// bindings (the ServiceAccount) are skipped.
    pub fn parse(yaml: &str) -> Result<Self, String> {
        let mut docs = Vec::new();
        for d in serde_yaml::Deserializer::from_str(yaml) {
            let doc = Doc::deserialize(d).map_err(|e| e.to_string())?;
            if ["ClusterRole", "Role", "ClusterRoleBinding", "RoleBinding"]
                .contains(&doc.kind.as_str())
            {
                docs.push(doc);
            }
        }
        Ok(Rbac { docs })
    }

    fn role(&self, kind: &str, name: &str, namespace: &str) -> Option<&Doc> {
        self.docs.iter().find(|d| {
            d.kind == kind
                && d.metadata.name == name
                && (kind == "ClusterRole" || d.metadata.namespace == namespace)
        })
    }

    /// Whether `user` may do `a`.
    pub fn allows(&self, user: &User, a: &Attributes) -> bool {
        self.docs.iter().any(|b| {
            let scope_ok = match b.kind.as_str() {
                "ClusterRoleBinding" => true,
                "RoleBinding" => !a.namespace.is_empty() && b.metadata.namespace == a.namespace,
                _ => return false,
            };
            scope_ok
                && b.subjects.iter().any(|s| s.matches(user))
                && self
                    .role(&b.role_ref.kind, &b.role_ref.name, &b.metadata.namespace)
                    .is_some_and(|r| r.rules.iter().any(|rule| rule.grants(a)))
        })
    }
}
