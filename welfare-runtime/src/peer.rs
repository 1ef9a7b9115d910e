//! Where a call comes from: the address of the connection's peer, or — when that peer is one of
//! the configured trusted proxies (`limits.trusted_proxies`: the Ambito's gateway, an ingress
//! controller) — the client it forwarded the call for, read from `x-forwarded-for` from the
//! right, past every trusted hop. A header from anyone else is ignored: a caller cannot choose
//! the address it is limited under.

use std::net::IpAddr;

/// The header proxies name their client in.
pub const FORWARDED_FOR: &str = "x-forwarded-for";

/// The client's address, or `None` when the connection has none (an in-process call).
pub fn client_address<B>(request: &http::Request<B>, trusted: &[IpAddr]) -> Option<IpAddr> {
    use tonic::transport::server::TcpConnectInfo;
    let extensions = request.extensions();
    let peer = extensions
        .get::<TcpConnectInfo>()
        .or_else(|| {
            extensions
                .get::<crate::tls::TlsPeer>()
                .map(|peer| &peer.tcp)
        })
        .and_then(TcpConnectInfo::remote_addr)
        .map(|addr| addr.ip())?;
    if !trusted.contains(&peer) {
        return Some(peer);
    }
    let forwarded: Vec<IpAddr> = request
        .headers()
        .get_all(FORWARDED_FOR)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .map(|hop| hop.parse::<IpAddr>())
        .collect::<Result<_, _>>()
        .unwrap_or_default();
    // The rightmost hop no trusted proxy vouches for is the client.
    Some(
        forwarded
            .iter()
            .rev()
            .find(|hop| !trusted.contains(hop))
            .copied()
            .unwrap_or(peer),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(peer: &str, forwarded: Option<&str>) -> http::Request<()> {
        let mut request = http::Request::new(());
        let info = tonic::transport::server::TcpConnectInfo {
            local_addr: None,
            remote_addr: Some(format!("{peer}:40000").parse().expect("address")),
        };
        request.extensions_mut().insert(info);
        if let Some(value) = forwarded {
            request.headers_mut().insert(
                FORWARDED_FOR,
                http::HeaderValue::from_str(value).expect("header"),
            );
        }
        request
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("ip")
    }

    #[test]
    fn only_a_trusted_proxy_names_the_client() {
        let gateway = [ip("10.0.0.2")];
        // A caller reaching the server directly cannot claim another address.
        assert_eq!(
            client_address(&from("203.0.113.7", Some("198.51.100.1")), &gateway),
            Some(ip("203.0.113.7"))
        );
        // Through the gateway: the client it forwarded for.
        assert_eq!(
            client_address(&from("10.0.0.2", Some("198.51.100.1")), &gateway),
            Some(ip("198.51.100.1"))
        );
        // A client that sends its own header first: the hop the gateway added wins.
        assert_eq!(
            client_address(
                &from("10.0.0.2", Some("192.0.2.66, 198.51.100.1")),
                &gateway
            ),
            Some(ip("198.51.100.1"))
        );
        // Several trusted hops are skipped.
        let chain = [ip("10.0.0.2"), ip("10.0.0.3")];
        assert_eq!(
            client_address(&from("10.0.0.2", Some("198.51.100.1, 10.0.0.3")), &chain),
            Some(ip("198.51.100.1"))
        );
        // A proxy that names no client, or garbage: the proxy itself.
        assert_eq!(
            client_address(&from("10.0.0.2", None), &gateway),
            Some(ip("10.0.0.2"))
        );
        assert_eq!(
            client_address(&from("10.0.0.2", Some("not an address")), &gateway),
            Some(ip("10.0.0.2"))
        );
        assert_eq!(client_address(&http::Request::new(()), &gateway), None);
    }

    #[test]
    fn a_tls_connection_names_its_peer_too() {
        let mut request = http::Request::new(());
        request.extensions_mut().insert(crate::tls::TlsPeer {
            tcp: tonic::transport::server::TcpConnectInfo {
                local_addr: None,
                remote_addr: Some("203.0.113.9:40000".parse().expect("address")),
            },
            certificates: None,
        });
        assert_eq!(client_address(&request, &[]), Some(ip("203.0.113.9")));
    }
}
