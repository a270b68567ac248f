/**
 * Alertmanager's config: every alert of the stack goes to one webhook (the secret
 * monitoringAlertWebhook), grouped by alert and region so that one region down is one message,
 * and again when it is resolved. Without a webhook (dev) the alerts are kept and shown by
 * Alertmanager, and sent nowhere.
 */
import { stringify } from "yaml";

/** How soon the first message of a new group goes out: the alert has already waited DOWN_FOR. */
export const GROUP_WAIT = "10s";

export function alertmanagerConfig(webhookUrl: string | undefined): string {
  const receiver = webhookUrl
    ? { name: "webhook", webhook_configs: [{ url: webhookUrl, send_resolved: true }] }
    : { name: "webhook" };
  return stringify(
    {
      route: {
        receiver: "webhook",
        group_by: ["alertname", "stack", "region"],
        group_wait: GROUP_WAIT,
        group_interval: "1m",
        repeat_interval: "4h",
      },
      receivers: [receiver],
    },
    { lineWidth: 0 },
  );
}
