//! The ports Kubernetes manifests claim: `hostPort` and `nodePort` on the host (every
//! node), `containerPort` inside its pod, where two containers cannot share one. Every
//! document with `apiVersion` and `kind` is read, whatever its kind, since pod templates
//! sit at different depths in Deployments, Jobs and CronJobs.

use super::marked::{Marked, Node};
use super::{Claim, HOST, SourceKind};
use crate::probe::Protocol;

/// Manifests nest a dozen levels; deeper is not followed.
const MAXIMUM_DEPTH: usize = 64;

/// Whether `document` is a Kubernetes object.
pub(super) fn is_manifest(document: &Marked) -> bool {
    document.get("apiVersion").is_some() && document.get("kind").and_then(Marked::text).is_some()
}

/// Every port the objects among `documents` (of the file at `file`) claim.
pub(super) fn claims(file: &str, documents: &[Marked]) -> Vec<Claim> {
    let mut claims = Vec::new();
    for (index, document) in documents.iter().enumerate().filter(|(_, document)| is_manifest(document)) {
        let kind = document.get("kind").and_then(Marked::text).unwrap_or_default();
        let name = document.get("metadata").and_then(|metadata| metadata.get("name")).and_then(Marked::text);
        let object = format!("{kind}/{}", name.unwrap_or("(unnamed)"));
        let context = Context { file, document: index, object: &object };
        walk(&context, document, None, 0, &mut claims);
    }
    claims
}

struct Context<'a> {
    file: &'a str,
    document: usize,
    object: &'a str,
}

fn walk(context: &Context<'_>, node: &Marked, container: Option<&str>, depth: usize, claims: &mut Vec<Claim>) {
    if depth > MAXIMUM_DEPTH {
        return;
    }
    match &node.node {
        Node::Sequence(items) => {
            for item in items {
                walk(context, item, container, depth + 1, claims);
            }
        }
        Node::Mapping(entries) => {
            let container = match (node.get("image"), node.get("name").and_then(Marked::text)) {
                (Some(_), Some(name)) => Some(name),
                _ => container,
            };
            let protocol = match node.get("protocol").and_then(Marked::text) {
                Some(text) if text.eq_ignore_ascii_case("udp") => Protocol::Udp,
                _ => Protocol::Tcp,
            };
            for (key, value) in entries {
                let port = value.text().and_then(|text| text.parse::<u16>().ok()).filter(|port| *port > 0);
                match (key.text(), port) {
                    (Some(field @ ("hostPort" | "nodePort")), Some(port)) => {
                        claims.push(claim(context, port, protocol, HOST.to_string(), field, container, value.line));
                    }
                    (Some(field @ "containerPort"), Some(port)) => {
                        let scope = format!("pod {}#{} {}", context.file, context.document + 1, context.object);
                        claims.push(claim(context, port, protocol, scope, field, container, value.line));
                    }
                    _ => walk(context, value, container, depth + 1, claims),
                }
            }
        }
        Node::Scalar(_) | Node::Alias => {}
    }
}

fn claim(
    context: &Context<'_>,
    port: u16,
    protocol: Protocol,
    scope: String,
    field: &str,
    container: Option<&str>,
    line: usize,
) -> Claim {
    let container = container.map_or_else(String::new, |name| format!(" container {name}"));
    let claimant = format!("{}{container} {field}", context.object);
    Claim {
        port,
        protocol,
        scope,
        source: SourceKind::Kubernetes,
        owner: format!("kubernetes:{}#{}:{}{container}", context.file, context.document, context.object),
        claimant,
        variable: None,
        location: format!("{}:{line}", context.file),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::marked::documents;

    #[test]
    fn host_node_and_container_ports_are_claimed_with_their_scope() {
        let text = "\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  template:
    spec:
      containers:
        - name: app
          image: web
          ports:
            - containerPort: 8080
              hostPort: 80
        - name: sidecar
          image: proxy
          ports:
            - {containerPort: 8080, protocol: UDP}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  type: NodePort
  ports:
    - {port: 80, nodePort: 30080}
---
just: data
";
        let found: Vec<(u16, Protocol, String, String, String)> = claims("k8s.yaml", &documents(text).expect("parses"))
            .into_iter()
            .map(|claim| (claim.port, claim.protocol, claim.scope, claim.claimant, claim.location))
            .collect();
        let pod = "pod k8s.yaml#1 Deployment/web".to_string();
        assert_eq!(
            found,
            [
                (
                    8080,
                    Protocol::Tcp,
                    pod.clone(),
                    "Deployment/web container app containerPort".into(),
                    "k8s.yaml:11".into()
                ),
                (80, Protocol::Tcp, HOST.into(), "Deployment/web container app hostPort".into(), "k8s.yaml:12".into()),
                (
                    8080,
                    Protocol::Udp,
                    pod,
                    "Deployment/web container sidecar containerPort".into(),
                    "k8s.yaml:16".into()
                ),
                (30080, Protocol::Tcp, HOST.into(), "Service/web nodePort".into(), "k8s.yaml:24".into()),
            ]
        );
    }
}
