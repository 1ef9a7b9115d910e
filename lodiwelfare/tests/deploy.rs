//! The deployment files checked by what can run here: `kubectl kustomize` renders the base and
//! every overlay; the rendered objects and `deploy/compose.yaml` are parsed, and for every
//! container of ours: its command names a binary of the workspace (and of the Dockerfile), its
//! configuration — the mounted file of `deploy/kubernetes/base/config` and every `LODIWELFARE__`
//! variable it sets — loads into that binary's configuration (unknown keys are refused there),
//! and its ports agree: the gRPC port is the configuration's `server.listen_addr`, the metrics
//! port its `telemetry.metrics_addr`, every probe and Service targets them, and Prometheus
//! scrapes the compose services where they serve metrics.
#![allow(clippy::indexing_slicing)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use welfare_runtime::config::{ConfigError, ServerConfig, ServiceConfig, load_over};

/// The binaries an image may run, each with the package that builds it.
const BINARIES: [&str; 4] = ["catalog-svc", "booking-svc", "wallet-svc", "lodiwelfare"];

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path)
}

/// Every document of a YAML stream, as JSON values (merge keys applied).
fn documents(text: &str) -> Vec<Value> {
    use serde::Deserialize;
    yaml_serde::Deserializer::from_str(text)
        .map(|document| {
            let mut value = yaml_serde::Value::deserialize(document).expect("yaml");
            value.apply_merge().expect("merge keys");
            serde_json::to_value(value).expect("as json")
        })
        .filter(|v| !v.is_null())
        .collect()
}

/// `kubectl kustomize <dir>`, parsed.
fn kustomize(dir: &str) -> Vec<Value> {
    let output = Command::new("kubectl")
        .args(["kustomize"])
        .arg(repo(dir))
        .output()
        .expect("kubectl (with kustomize) is needed to render deploy/kubernetes");
    assert!(
        output.status.success(),
        "kubectl kustomize {dir}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    documents(&String::from_utf8_lossy(&output.stdout))
}

/// What a container runs, as the checks need it.
#[derive(Debug)]
struct Container {
    place: String,
    binary: String,
    args: Vec<String>,
    /// The repository file its `--config` names, through its mounts.
    config: Option<PathBuf>,
    env: Vec<(String, String)>,
    /// Named container ports.
    ports: BTreeMap<String, u16>,
    probe_ports: Vec<u16>,
    /// Where each Secret is mounted: mount path → Secret name.
    secret_mounts: BTreeMap<String, String>,
}

/// What a loaded configuration serves: gRPC, metrics, the probe port, and how.
struct Served {
    grpc: u16,
    metrics: Option<u16>,
    server: ServerConfig,
}

/// Loads `container`'s configuration as its binary does: defaults, its file, its variables.
fn served(container: &Container) -> Served {
    fn loaded<C: ServiceConfig>(file: Option<&Path>, env: &[(String, String)]) -> Served {
        let config: Result<C, ConfigError> =
            load_over(C::service_defaults(), file, "lodiwelfare", env.to_vec());
        let config = config.unwrap_or_else(|e| panic!("{e}"));
        let (server, telemetry, _, _) = config.runtime_sections();
        Served {
            grpc: server.listen_addr.port(),
            metrics: telemetry.metrics_addr.map(|a| a.port()),
            server: server.clone(),
        }
    }
    let file = container.config.as_deref();
    let env = &container.env;
    match container.binary.as_str() {
        "catalog-svc" => loaded::<catalog_svc::config::CatalogConfig>(file, env),
        "booking-svc" => loaded::<booking_svc::config::BookingConfig>(file, env),
        "wallet-svc" => loaded::<wallet_svc::config::WalletConfig>(file, env),
        "lodiwelfare" => loaded::<lodiwelfare::config::LodiwelfareConfig>(file, env),
        other => panic!(
            "{}: {other} is not a binary of the workspace",
            container.place
        ),
    }
}

/// A container's environment: plain values as they are, values from Secrets as a stand-in
/// (their key must still be a configuration key).
fn environment(env: &Value) -> Vec<(String, String)> {
    env.as_array()
        .into_iter()
        .flatten()
        .map(|var| {
            let name = var["name"].as_str().expect("env name").to_owned();
            let value = match &var["value"] {
                Value::String(s) => s.clone(),
                Value::Null => "from-a-secret-0123456789abcdef0123456789".to_owned(),
                other => other.to_string(),
            };
            (name, value)
        })
        .collect()
}

/// A pod's volumes of one source (`secret`, `configMap`): volume name → the source's name,
/// read at `key`.
fn volumes(pod: &Value, source: &str, key: &str) -> BTreeMap<String, String> {
    pod["volumes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| {
            Some((
                v["name"].as_str()?.to_owned(),
                v[source][key].as_str()?.to_owned(),
            ))
        })
        .collect()
}

/// The containers of every Deployment and Job of a rendered kustomization.
fn kubernetes_containers(objects: &[Value], overlay: &str) -> Vec<Container> {
    let mut found = Vec::new();
    for object in objects {
        let kind = object["kind"].as_str().unwrap_or_default();
        if kind != "Deployment" && kind != "Job" {
            continue;
        }
        let name = object["metadata"]["name"].as_str().unwrap_or_default();
        let pod = &object["spec"]["template"]["spec"];
        let secrets = volumes(pod, "secret", "secretName");
        let config_maps = volumes(pod, "configMap", "name");
        for container in pod["containers"].as_array().expect("containers") {
            let command: Vec<String> = container["command"]
                .as_array()
                .expect("a command: the image runs no default binary in Kubernetes")
                .iter()
                .map(|c| c.as_str().expect("string").to_owned())
                .collect();
            let place = format!(
                "{overlay}: {kind} {name}, container {}",
                container["name"].as_str().unwrap_or_default()
            );
            let config_path = command
                .iter()
                .position(|a| a == "--config")
                .and_then(|i| command.get(i + 1))
                .cloned();
            let config = config_path.map(|path| {
                let mount = container["volumeMounts"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|m| m["mountPath"] == path.as_str())
                    .unwrap_or_else(|| panic!("{place}: nothing is mounted at {path}"));
                let volume = mount["name"].as_str().expect("volume");
                // kustomize names the generated ConfigMap with a hash of its content.
                assert!(
                    config_maps
                        .get(volume)
                        .is_some_and(|map| map.starts_with("lodiwelfare-config")),
                    "{place}: {path} comes from the configuration ConfigMap"
                );
                let file = repo("deploy/kubernetes/base/config")
                    .join(mount["subPath"].as_str().expect("subPath"));
                assert!(file.exists(), "{place}: {} does not exist", file.display());
                file
            });
            let ports = container["ports"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| {
                    (
                        p["name"].as_str().expect("named port").to_owned(),
                        u16::try_from(p["containerPort"].as_u64().expect("port")).expect("port"),
                    )
                })
                .collect();
            let probe_ports = ["startupProbe", "readinessProbe", "livenessProbe"]
                .iter()
                .filter_map(|probe| container[*probe]["grpc"]["port"].as_u64())
                .map(|p| u16::try_from(p).expect("port"))
                .collect();
            let secret_mounts = container["volumeMounts"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|m| {
                    let secret = secrets.get(m["name"].as_str()?)?;
                    Some((m["mountPath"].as_str()?.to_owned(), secret.clone()))
                })
                .collect();
            found.push(Container {
                place,
                secret_mounts,
                binary: command[0].clone(),
                args: command[1..].to_vec(),
                config,
                env: environment(&container["env"]),
                ports,
                probe_ports,
            });
        }
    }
    found
}

/// Checks a container against its configuration; answers what it serves.
fn check(container: &Container) -> Served {
    assert!(
        BINARIES.contains(&container.binary.as_str()),
        "{}: {} is not one of {BINARIES:?}",
        container.place,
        container.binary
    );
    let served = served(container);
    let serving = !container.args.iter().any(|a| a == "migrate");
    if serving && container.binary == "wallet-svc" && !container.ports.is_empty() {
        let config: wallet_svc::config::WalletConfig = load_over(
            <wallet_svc::config::WalletConfig as ServiceConfig>::service_defaults(),
            container.config.as_deref(),
            "lodiwelfare",
            container.env.clone(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            container.ports.get("holds").copied(),
            config.holds.listen_addr.map(|a| a.port()),
            "{}: the holds port is holds.listen_addr's",
            container.place
        );
    }
    if serving && !container.ports.is_empty() {
        assert_eq!(
            container.ports.get("grpc"),
            Some(&served.grpc),
            "{}: the grpc port is server.listen_addr's",
            container.place
        );
        assert_eq!(
            container.ports.get("metrics").copied(),
            served.metrics,
            "{}: the metrics port is telemetry.metrics_addr's",
            container.place
        );
        let probe = served.server.health_addr.map(|a| a.port());
        assert_eq!(
            container.ports.get("probe").copied(),
            probe,
            "{}: the probe port is server.health_addr's",
            container.place
        );
        for port in &container.probe_ports {
            assert_eq!(
                Some(*port),
                probe,
                "{}: probes ask the health-only port (the kubelet speaks no TLS)",
                container.place
            );
        }
        assert_eq!(
            container.probe_ports.len(),
            3,
            "{}: startup, readiness and liveness probes",
            container.place
        );
    }
    served
}

/// The Certificate (cert-manager) whose Secret is mounted at the directory of `path`.
fn certificate_for<'a>(container: &Container, path: &Path, objects: &'a [Value]) -> &'a Value {
    let (_, secret) = container
        .secret_mounts
        .iter()
        .find(|(mount, _)| path.starts_with(mount))
        .unwrap_or_else(|| {
            panic!(
                "{}: {} is in no mounted Secret",
                container.place,
                path.display()
            )
        });
    objects
        .iter()
        .find(|o| o["kind"] == "Certificate" && o["spec"]["secretName"] == secret.as_str())
        .unwrap_or_else(|| panic!("{}: no Certificate issues {secret}", container.place))
}

/// Every deployed listener speaks TLS with a certificate cert-manager keeps current in a
/// mounted Secret; the booking service calls the others over TLS with its own certificate, and
/// the wallet's holds port answers exactly that certificate's name.
fn check_tls(container: &Container, served: &Served, objects: &[Value]) {
    let tls = served
        .server
        .tls
        .as_ref()
        .unwrap_or_else(|| panic!("{}: server.tls", container.place));
    let certificate = certificate_for(container, &tls.cert_file, objects);
    assert_eq!(
        certificate_for(container, &tls.key_file, objects),
        certificate
    );
    let usages = &certificate["spec"]["usages"];
    for usage in ["server auth", "client auth"] {
        assert!(
            usages
                .as_array()
                .is_some_and(|u| u.iter().any(|x| x == usage)),
            "{}: the certificate is for {usage}",
            container.place
        );
    }
    let names = |binary: &str| -> Vec<String> {
        objects
            .iter()
            .find(|o| o["kind"] == "Certificate" && o["metadata"]["name"] == binary)
            .and_then(|c| c["spec"]["dnsNames"].as_array())
            .into_iter()
            .flatten()
            .filter_map(|n| n.as_str().map(str::to_owned))
            .collect()
    };
    assert!(
        names(&container.binary).contains(&container.binary),
        "{}: the certificate names the Service clients dial",
        container.place
    );
    let file = container.config.as_deref();
    match container.binary.as_str() {
        "booking-svc" => {
            let config: booking_svc::config::BookingConfig = load_over(
                <booking_svc::config::BookingConfig as ServiceConfig>::service_defaults(),
                file,
                "lodiwelfare",
                container.env.clone(),
            )
            .unwrap_or_else(|e| panic!("{e}"));
            let upstream = &config.upstream;
            for url in [&upstream.catalog_url, &upstream.wallet_url]
                .into_iter()
                .chain(&upstream.wallet_holds_url)
            {
                assert!(url.starts_with("https://"), "{}: {url}", container.place);
            }
            let client = upstream.tls.as_ref().expect("upstream.tls");
            let cert = client.cert_file.as_deref().expect("a client certificate");
            assert_eq!(
                certificate_for(container, cert, objects),
                certificate,
                "{}: its own certificate",
                container.place
            );
        }
        "wallet-svc" => {
            let config: wallet_svc::config::WalletConfig = load_over(
                <wallet_svc::config::WalletConfig as ServiceConfig>::service_defaults(),
                file,
                "lodiwelfare",
                container.env.clone(),
            )
            .unwrap_or_else(|e| panic!("{e}"));
            let booking = names("booking-svc");
            assert!(!config.holds.client_names.is_empty());
            for name in &config.holds.client_names {
                assert!(
                    booking.contains(name),
                    "{}: the holds port answers {name}, a name of the booking service's certificate",
                    container.place
                );
            }
            assert!(
                tls.client_ca_file.is_some(),
                "{}: client authorities",
                container.place
            );
        }
        _ => {}
    }
}

#[test]
fn every_overlay_renders_and_every_container_loads_its_configuration() {
    for overlay in [
        "deploy/kubernetes/base",
        "deploy/kubernetes/overlays/production",
    ] {
        let objects = kustomize(overlay);
        let containers = kubernetes_containers(&objects, overlay);
        let deployed: Vec<&str> = containers.iter().map(|c| c.binary.as_str()).collect();
        for service in ["catalog-svc", "booking-svc", "wallet-svc"] {
            assert_eq!(
                deployed.iter().filter(|b| **b == service).count(),
                2,
                "{overlay}: {service} is deployed and migrated"
            );
        }
        for container in &containers {
            let served = check(container);
            if !container.args.iter().any(|a| a == "migrate") {
                check_tls(container, &served, &objects);
            }
        }
        // Services select a Deployment's pods and target ports it names.
        for service in objects.iter().filter(|o| o["kind"] == "Service") {
            let selector = &service["spec"]["selector"];
            let deployment = objects
                .iter()
                .find(|o| {
                    o["kind"] == "Deployment"
                        && selector.as_object().is_some_and(|s| {
                            s.iter()
                                .all(|(k, v)| &o["spec"]["template"]["metadata"]["labels"][k] == v)
                        })
                })
                .unwrap_or_else(|| {
                    panic!(
                        "{overlay}: {} selects no Deployment",
                        service["metadata"]["name"]
                    )
                });
            let name = deployment["metadata"]["name"].as_str().expect("name");
            let container = containers
                .iter()
                .find(|c| c.place.contains(&format!("Deployment {name},")))
                .expect("container");
            for port in service["spec"]["ports"].as_array().expect("ports") {
                let target = port["targetPort"].as_str().expect("a named target port");
                assert_eq!(
                    container.ports.get(target).map(|p| u64::from(*p)),
                    port["port"].as_u64(),
                    "{overlay}: Service {name} port {target}"
                );
            }
        }
        if overlay.ends_with("production") {
            let kinds: Vec<&str> = objects.iter().filter_map(|o| o["kind"].as_str()).collect();
            for kind in [
                "PodDisruptionBudget",
                "HorizontalPodAutoscaler",
                "NetworkPolicy",
                "Job",
            ] {
                assert!(kinds.contains(&kind), "{overlay}: a {kind}");
            }
            // The wallet's holds port is reached by the booking service alone.
            let wallet_policy = objects
                .iter()
                .find(|o| {
                    o["kind"] == "NetworkPolicy" && o["metadata"]["name"] == "wallet-svc-ingress"
                })
                .expect("the wallet's network policy");
            let holds_rules: Vec<&Value> = wallet_policy["spec"]["ingress"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|rule| {
                    rule["ports"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .any(|port| port["port"] == "holds")
                })
                .collect();
            assert!(
                !holds_rules.is_empty(),
                "{overlay}: a rule for the holds port"
            );
            for rule in holds_rules {
                let from = rule["from"].as_array().expect("from");
                assert_eq!(
                    from.len(),
                    1,
                    "{overlay}: the holds port from one peer: {rule:?}"
                );
                assert_eq!(
                    from[0]["podSelector"]["matchLabels"]["app.kubernetes.io/name"], "booking-svc",
                    "{overlay}: the holds port from the booking service only"
                );
            }
            // Secrets come from Secrets, by reference: never a value in the manifests.
            let secret = |name: &str| {
                name.contains("SECRET")
                    || name.contains("API_KEY")
                    || name.ends_with("DATABASE__URL")
            };
            for object in &objects {
                for container in object["spec"]["template"]["spec"]["containers"]
                    .as_array()
                    .into_iter()
                    .flatten()
                {
                    for var in container["env"].as_array().into_iter().flatten() {
                        let name = var["name"].as_str().unwrap_or_default();
                        if secret(name) {
                            assert!(
                                var["valueFrom"]["secretKeyRef"].is_object(),
                                "{overlay}: {name} comes from a Secret"
                            );
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn the_compose_services_load_their_environment_and_are_scraped_where_they_serve() {
    let compose = documents(
        &std::fs::read_to_string(repo("deploy/compose.yaml")).expect("deploy/compose.yaml"),
    );
    let compose = &compose[0];
    let mut metrics_targets = Vec::new();
    for (name, service) in compose["services"].as_object().expect("services") {
        if service["image"] != "lodiwelfare:dev" {
            continue;
        }
        let command: Vec<String> = service["command"]
            .as_array()
            .expect("command")
            .iter()
            .map(|c| c.as_str().expect("string").to_owned())
            .collect();
        let env: Vec<(String, String)> = service["environment"]
            .as_object()
            .expect("environment")
            .iter()
            .map(|(k, v)| {
                let value = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
                // `${VAR:?…}` stands for what the person running compose gives.
                let value = if value.starts_with("${") {
                    "given-at-compose-up-0123456789abcdef0123".to_owned()
                } else {
                    value
                };
                (k.clone(), value)
            })
            .collect();
        let container = Container {
            place: format!("compose: {name}"),
            binary: command[0].clone(),
            args: command[1..].to_vec(),
            config: None,
            env,
            ports: BTreeMap::new(),
            probe_ports: Vec::new(),
            secret_mounts: BTreeMap::new(),
        };
        let served = check(&container);
        assert!(
            !served.server.plaintext_refused(),
            "{name}: plaintext beyond loopback is allowed explicitly or TLS configured"
        );
        if container.args.iter().any(|a| a == "migrate") {
            continue;
        }
        let published: Vec<&str> = service["ports"]
            .as_array()
            .expect("ports")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert_eq!(
            published,
            [format!("{0}:{0}", served.grpc)],
            "{name}: publishes its gRPC port"
        );
        let metrics = served.metrics.expect("a metrics address");
        metrics_targets.push(format!("{name}:{metrics}"));
    }
    metrics_targets.sort();
    let prometheus = documents(
        &std::fs::read_to_string(repo("deploy/prometheus/prometheus.yml")).expect("prometheus.yml"),
    );
    let mut scraped: Vec<String> = prometheus[0]["scrape_configs"]
        .as_array()
        .expect("scrape configs")
        .iter()
        .flat_map(|job| {
            job["static_configs"][0]["targets"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter_map(|t| t.as_str().map(str::to_owned))
        .collect();
    scraped.sort();
    assert_eq!(
        scraped, metrics_targets,
        "Prometheus scrapes every service's metrics"
    );
}

#[test]
fn the_image_builds_and_ships_every_binary_a_deployment_runs() {
    let dockerfile = std::fs::read_to_string(repo("Dockerfile")).expect("Dockerfile");
    for binary in BINARIES {
        assert!(
            repo(binary).join("src/main.rs").exists(),
            "{binary} is a binary of the workspace"
        );
        assert!(
            dockerfile.contains(&format!("-p {binary}"))
                && dockerfile.contains(&format!("target/release/{binary}")),
            "the Dockerfile builds and copies {binary}"
        );
    }
    assert!(
        dockerfile.contains("USER 10001"),
        "the image runs as a non-root user"
    );
    assert!(
        dockerfile.contains("COPY deploy/kubernetes/base/config/ /etc/lodiwelfare/"),
        "the image carries the deployed configuration"
    );
}
