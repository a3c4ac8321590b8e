// Writes a java.util.logging log with SimpleFormatter's default layout (to standard error) and
// prints its truth (record counts, levels, root causes) as JSON. Exceptions are really thrown;
// times are fixed. Run by make_layouts.py:
//   java -Duser.language=en -Duser.country=US -Duser.timezone=UTC InvoiceSync.java
import java.net.SocketTimeoutException;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import java.util.logging.ConsoleHandler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

public class InvoiceSync {
    static final Logger LOG = Logger.getLogger("com.example.invoices.InvoiceSync");

    static String vatOf(Map<String, String> supplier) throws SocketTimeoutException {
        String vat = supplier.get("vat");
        if (vat == null) {
            throw new SocketTimeoutException("Read timed out");
        }
        return vat;
    }

    static void sync(int invoice) {
        try {
            vatOf(Map.of("id", String.valueOf(invoice)));
        } catch (SocketTimeoutException e) {
            throw new IllegalStateException("could not sync invoice " + invoice, e);
        }
    }

    static int share(int total, int parts) {
        return total / parts;
    }

    public static void main(String[] args) {
        LOG.setUseParentHandlers(false);
        ConsoleHandler handler = new ConsoleHandler();
        handler.setLevel(Level.ALL);
        LOG.addHandler(handler);
        LOG.setLevel(Level.ALL);
        Random rng = new Random(7);
        Instant start = Instant.parse("2026-12-06T09:00:00.123Z");
        Map<String, Integer> levels = new LinkedHashMap<>();
        Map<String, Integer> roots = new LinkedHashMap<>();
        int records = 0, info = 0;
        for (int i = 0; i < 60; i++) {
            Instant t = start.plusSeconds(37L * i + rng.nextInt(30));
            int invoice = 1000 + rng.nextInt(9000);
            int kind = rng.nextInt(5);
            LogRecord r;
            if (kind == 0 || kind == 1) {
                r = new LogRecord(Level.INFO, "invoice " + invoice + " synced");
                info++;
            } else if (kind == 2) {
                r = new LogRecord(Level.WARNING, "invoice " + invoice + " took " + (5 + rng.nextInt(50)) + " s to sync");
            } else {
                r = new LogRecord(Level.SEVERE, "sync of invoice " + invoice + " failed");
                try {
                    if (kind == 3) {
                        sync(invoice);
                    } else {
                        share(invoice, 0);
                    }
                } catch (RuntimeException e) {
                    r.setThrown(e);
                    Throwable root = e;
                    while (root.getCause() != null) {
                        root = root.getCause();
                    }
                    roots.merge(root.getClass().getName(), 1, Integer::sum);
                }
            }
            r.setInstant(t);
            r.setLoggerName(LOG.getName());
            r.setSourceClassName(LOG.getName());
            r.setSourceMethodName("run");
            LOG.log(r);
            records++;
            if (r.getLevel() != Level.INFO) {
                levels.merge(r.getLevel().getName(), 1, Integer::sum);
            }
        }
        handler.flush();
        System.out.println("{\"records\": " + records + ", \"info\": " + info + ", \"levels\": " + json(levels)
                + ", \"root_types\": " + json(roots) + "}");
    }

    static String json(Map<String, Integer> m) {
        StringBuilder b = new StringBuilder("{");
        for (Map.Entry<String, Integer> e : m.entrySet()) {
            b.append(b.length() > 1 ? ", " : "").append('"').append(e.getKey()).append("\": ").append(e.getValue());
        }
        return b.append('}').toString();
    }
}
