// A Java 17 client of the creditguard decision service (`creditguard serve`).
// Only the JDK: java.net.http.HttpClient, javax.crypto for spec §2 signatures.
//
//   javac -d out CreditGuardClient.java
//   CG_TOKEN=... java -cp out CreditGuardClient http://127.0.0.1:8780 91320100MA1W2K7D41 procurement.bid 320100 NJCG-2026-7
//
// The last argument is the application's reference in your system (workflow_ref): checking the
// same application and step again, through any worker, reuses its case. Feedback names the
// decision by the check's feedback_token, which any worker accepts, after restarts too.
//
// Credentials: CG_TOKEN (bearer), or CG_APP_KEY and CG_SECRET (signed requests, spec §2).
// The JSON handling is deliberately minimal (no third-party jars); a real system
// would map the bodies with its own JSON library using docs/openapi.json.

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.HexFormat;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

public final class CreditGuardClient {
    private final HttpClient http =
            HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
    private final String base;
    private final String token;
    private final String appKey;
    private final String secret;

    /** The answer of one call: HTTP status and JSON body. */
    public record Answer(int status, String body) {
        /** A top-level string field of the body, or null (enough for this example). */
        public String field(String name) {
            Matcher m = Pattern.compile("\"" + Pattern.quote(name) + "\"\\s*:\\s*\"([^\"]*)\"").matcher(body);
            return m.find() ? m.group(1) : null;
        }
    }

    public CreditGuardClient(String base, String token, String appKey, String secret) {
        this.base = base.endsWith("/") ? base.substring(0, base.length() - 1) : base;
        this.token = token;
        this.appKey = appKey;
        this.secret = secret;
    }

    /** Check one subject before one step of application workflowRef: POST /v1/check. */
    public Answer check(String subject, String step, String region, String workflowRef) throws Exception {
        String body = "{\"subject_code\":" + quote(subject) + ",\"step\":" + quote(step)
                + ",\"region\":" + quote(region) + ",\"workflow_ref\":" + quote(workflowRef) + "}";
        return send("POST", "/v1/check", body);
    }

    /**
     * Report what the workflow did after the step: POST /v1/feedback with the check's
     * feedback_token (the check's workflow_ref goes with it; each measure gets its effect's action).
     */
    public Answer feedback(String feedbackToken) throws Exception {
        return send("POST", "/v1/feedback", "{\"feedback_token\":" + quote(feedbackToken) + "}");
    }

    /** This unit's outbox backlog: GET /v1/outbox. */
    public Answer outbox() throws Exception {
        return send("GET", "/v1/outbox", "");
    }

    private Answer send(String method, String path, String body) throws Exception {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + path))
                .timeout(Duration.ofSeconds(15))
                .header("Accept", "application/json");
        if (method.equals("POST")) {
            b.header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofByteArray(bytes));
        } else {
            b.GET();
        }
        if (appKey != null && secret != null) {
            sign(b, method, URI.create(base + path).getRawPath(), bytes);
        } else if (token != null) {
            b.header("Authorization", "Bearer " + token);
        }
        HttpResponse<String> r = http.send(b.build(), HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
        return new Answer(r.statusCode(), r.body());
    }

    // Spec §2: HMAC-SHA256 over METHOD, path, sorted query, timestamp, nonce, SHA-256(body).
    private void sign(HttpRequest.Builder b, String method, String rawPath, byte[] body) throws Exception {
        String ts = Long.toString(System.currentTimeMillis());
        String nonce = nonce();
        String bodyHash = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(body));
        String canonical = String.join("\n", method, rawPath, "", ts, nonce, bodyHash);
        Mac mac = Mac.getInstance("HmacSHA256");
        mac.init(new SecretKeySpec(secret.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
        String signature = HexFormat.of().formatHex(mac.doFinal(canonical.getBytes(StandardCharsets.UTF_8)));
        b.header("X-CG-AppKey", appKey).header("X-CG-Timestamp", ts)
                .header("X-CG-Nonce", nonce).header("X-CG-Signature", signature);
    }

    private static String nonce() {
        String chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        SecureRandom random = new SecureRandom();
        StringBuilder s = new StringBuilder();
        for (int i = 0; i < 24; i++) s.append(chars.charAt(random.nextInt(chars.length())));
        return s.toString();
    }

    private static String quote(String s) {
        return "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 5) {
            System.err.println("usage: CreditGuardClient BASE_URL SUBJECT_CODE STEP REGION WORKFLOW_REF");
            System.exit(2);
        }
        CreditGuardClient client = new CreditGuardClient(args[0], System.getenv("CG_TOKEN"),
                System.getenv("CG_APP_KEY"), System.getenv("CG_SECRET"));
        Answer a = client.check(args[1], args[2], args[3], args[4]);
        if (a.status() != 200) {
            // Fail closed: no decision is no permission to proceed.
            System.out.println("error " + a.status() + " " + a.field("code") + ": " + a.field("message"));
            System.exit(1);
        }
        String outcome = a.field("outcome");
        String verification = a.field("verification");
        System.out.println("outcome " + outcome);
        System.out.println("verification " + verification);
        // Proceed only on a verified allow; anything else goes to an officer.
        boolean proceed = "allow".equals(outcome) && "verified".equals(verification);
        System.out.println(proceed ? "step may proceed" : "step held: " + outcome + " (" + verification + ")");
        // Set when measures applied and a case was opened: after the step, feed it back.
        String feedbackToken = a.field("feedback_token");
        if (feedbackToken != null) {
            Answer f = client.feedback(feedbackToken);
            System.out.println("feedback " + f.status());
        }
        Answer o = client.outbox();
        System.out.println("outbox " + o.status() + " unit " + o.field("unit_code"));
    }
}
