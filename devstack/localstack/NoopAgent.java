// LocalStack starts DynamoDB Local with -javaagent:ddb-local-loader-0.1.jar, an agent it downloads
// to raise DynamoDB Local's limit of 20 global secondary indexes per table. These tables have none,
// and the download is unreachable here: this agent does nothing, so the JVM starts.
package thumbstat;

public final class NoopAgent {
    private NoopAgent() {}

    public static void premain(String arguments) {}
}
