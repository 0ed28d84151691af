//! Requests hyper's parser rejects get the frontend's error pages (errorfile), not hyper's
//! empty answers.

use super::*;

use lb::http::errors::{ErrorPage, ErrorPages};

#[tokio::test]
async fn parser_errors_answer_with_the_frontend_pages() {
    let o = origin("a").await;
    let mut fe = FrontendConfig::new("fe");
    fe.errors = ErrorPages::new().with(ErrorPage::new(
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        "custom: too many headers\n",
    ));
    let p = proxy(
        &[o.addr],
        Opts {
            fe,
            ..Opts::default()
        },
    )
    .await;

    // Too many header fields: 431 with the custom page.
    let mut req = b"GET / HTTP/1.1\r\nHost: x\r\n".to_vec();
    for i in 0..150 {
        req.extend_from_slice(format!("X-H{i}: v\r\n").as_bytes());
    }
    req.extend_from_slice(b"\r\n");
    let text = raw_exchange(p.addr, &req).await;
    assert!(text.starts_with("HTTP/1.1 431"), "{text}");
    assert!(text.ends_with("custom: too many headers\n"), "{text}");
    assert!(
        text.to_ascii_lowercase().contains("connection: close"),
        "{text}"
    );

    // A broken request line: 400 with the built-in page (a body, with its length).
    let text = raw_exchange(p.addr, b"GARBAGE\r\n\r\n").await;
    assert!(text.starts_with("HTTP/1.1 400"), "{text}");
    assert!(text.contains("400 Bad Request</h1>"), "{text}");
    assert!(
        !text.to_ascii_lowercase().contains("content-length: 0\r\n"),
        "{text}"
    );

    // After a good request on the same connection, a broken one still gets the page, and
    // the first response is intact.
    let text = raw_exchange(
        p.addr,
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\nBROKEN LINE HERE\r\n\r\n",
    )
    .await;
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(text.contains("HTTP/1.1 400"), "{text}");
    assert!(text.contains("400 Bad Request</h1>"), "{text}");
    assert_eq!(o.requests(), 1);
}
