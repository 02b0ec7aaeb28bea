import { useId } from "react";
import styles from "./PreJoin.module.css";

interface Props {
  label: string;
  devices: MediaDeviceInfo[];
  value: string;
  onChange: (deviceId: string) => void;
}

export function DeviceSelect({ label, devices, value, onChange }: Props) {
  const id = useId();
  return (
    <div className={styles.field}>
      <label htmlFor={id}>{label}</label>
      <select id={id} value={value} onChange={(e) => onChange(e.target.value)} disabled={devices.length === 0}>
        {devices.length === 0 && <option value="">No {label.toLowerCase()} found</option>}
        {value === "" && devices.length > 0 && <option value="">Default</option>}
        {devices.map((d, i) => (
          <option key={d.deviceId} value={d.deviceId}>
            {d.label || `${label} ${i + 1}`}
          </option>
        ))}
      </select>
    </div>
  );
}
