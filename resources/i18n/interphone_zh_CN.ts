<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="zh_CN">
<context>
    <name>AudioBar</name>
    <message>
        <location filename="../../app/ui/audio_bar.py" line="81"/>
        <location filename="../../app/ui/audio_bar.py" line="82"/>
        <source>Microphone level</source>
        <translation>麦克风电平</translation>
    </message>
    <message>
        <location filename="../../app/ui/audio_bar.py" line="83"/>
        <location filename="../../app/ui/audio_bar.py" line="84"/>
        <source>Speaker level</source>
        <translation>扬声器电平</translation>
    </message>
    <message>
        <location filename="../../app/ui/audio_bar.py" line="85"/>
        <location filename="../../app/ui/audio_bar.py" line="86"/>
        <source>Output volume</source>
        <translation>输出音量</translation>
    </message>
    <message>
        <location filename="../../app/ui/audio_bar.py" line="87"/>
        <source>Mute the speaker</source>
        <translation>扬声器静音</translation>
    </message>
    <message>
        <location filename="../../app/ui/audio_bar.py" line="88"/>
        <source>Mute</source>
        <translation>静音</translation>
    </message>
</context>
<context>
    <name>IncomingCallBanner</name>
    <message>
        <location filename="../../app/ui/main_window.py" line="81"/>
        <source>&lt;b&gt;%1&lt;/b&gt; is calling you</source>
        <translation>&lt;b&gt;%1&lt;/b&gt; 正在呼叫你</translation>
    </message>
    <message>
        <location filename="../../app/ui/main_window.py" line="82"/>
        <source>Answer</source>
        <translation>接听</translation>
    </message>
    <message>
        <location filename="../../app/ui/main_window.py" line="83"/>
        <source>Dismiss</source>
        <translation>忽略</translation>
    </message>
</context>
<context>
    <name>InterphoneList</name>
    <message>
        <location filename="../../app/ui/interphone_list.py" line="191"/>
        <source>Joined</source>
        <translation>已加入</translation>
    </message>
    <message>
        <location filename="../../app/ui/interphone_list.py" line="193"/>
        <source>%1 speaking</source>
        <translation>%1 正在讲话</translation>
    </message>
    <message>
        <location filename="../../app/ui/interphone_list.py" line="197"/>
        <source>Not active</source>
        <translation>未开启</translation>
    </message>
    <message>
        <location filename="../../app/ui/interphone_list.py" line="214"/>
        <source>Groups</source>
        <translation>群组</translation>
    </message>
    <message>
        <location filename="../../app/ui/interphone_list.py" line="214"/>
        <source>Discussions</source>
        <translation>讨论组</translation>
    </message>
    <message>
        <location filename="../../app/ui/interphone_list.py" line="215"/>
        <source>Contacts</source>
        <translation>联系人</translation>
    </message>
    <message>
        <location filename="../../app/ui/interphone_list.py" line="227"/>
        <source>1 member</source>
        <translation>1 人</translation>
    </message>
    <message>
        <location filename="../../app/ui/interphone_list.py" line="228"/>
        <source>%1 members</source>
        <translation>%1 人</translation>
    </message>
    <message>
        <location filename="../../app/ui/interphone_list.py" line="236"/>
        <source>Filter by name…</source>
        <translation>按名称筛选…</translation>
    </message>
    <message>
        <location filename="../../app/ui/interphone_list.py" line="237"/>
        <source>Filter</source>
        <translation>筛选</translation>
    </message>
    <message>
        <location filename="../../app/ui/interphone_list.py" line="238"/>
        <source>Interphones</source>
        <translation>对讲列表</translation>
    </message>
</context>
<context>
    <name>InterphonePanel</name>
    <message>
        <location filename="../../app/ui/interphone_panel.py" line="177"/>
        <source>No interphone selected</source>
        <translation>未选择对讲</translation>
    </message>
    <message>
        <location filename="../../app/ui/interphone_panel.py" line="178"/>
        <source>Pick a group, discussion or contact on the left.</source>
        <translation>请在左侧选择群组、讨论组或联系人。</translation>
    </message>
    <message>
        <location filename="../../app/ui/interphone_panel.py" line="182"/>
        <source>Group</source>
        <translation>群组</translation>
    </message>
    <message>
        <location filename="../../app/ui/interphone_panel.py" line="182"/>
        <source>Discussion</source>
        <translation>讨论组</translation>
    </message>
    <message>
        <location filename="../../app/ui/interphone_panel.py" line="183"/>
        <source>One-to-one call</source>
        <translation>一对一对讲</translation>
    </message>
    <message>
        <location filename="../../app/ui/interphone_panel.py" line="185"/>
        <source>Not active</source>
        <translation>未开启</translation>
    </message>
    <message>
        <location filename="../../app/ui/interphone_panel.py" line="187"/>
        <source>Call</source>
        <translation>呼叫</translation>
    </message>
    <message>
        <location filename="../../app/ui/interphone_panel.py" line="188"/>
        <source>Join</source>
        <translation>加入</translation>
    </message>
    <message>
        <location filename="../../app/ui/interphone_panel.py" line="194"/>
        <location filename="../../app/ui/interphone_panel.py" line="197"/>
        <location filename="../../app/ui/interphone_panel.py" line="257"/>
        <source>Members</source>
        <translation>成员</translation>
    </message>
    <message>
        <location filename="../../app/ui/interphone_panel.py" line="198"/>
        <source>Join to see who is in</source>
        <translation>加入后可查看成员</translation>
    </message>
    <message>
        <location filename="../../app/ui/interphone_panel.py" line="202"/>
        <source>Members (%1)</source>
        <translation>成员（%1）</translation>
    </message>
    <message>
        <location filename="../../app/ui/interphone_panel.py" line="204"/>
        <source> (you)</source>
        <translation>（你）</translation>
    </message>
    <message>
        <location filename="../../app/ui/interphone_panel.py" line="213"/>
        <source>speaking</source>
        <translation>正在讲话</translation>
    </message>
    <message>
        <location filename="../../app/ui/interphone_panel.py" line="224"/>
        <source>You are speaking · %1</source>
        <translation>你正在讲话 · %1</translation>
    </message>
    <message>
        <location filename="../../app/ui/interphone_panel.py" line="226"/>
        <source>%1 is speaking · %2</source>
        <translation>%1 正在讲话 · %2</translation>
    </message>
    <message>
        <location filename="../../app/ui/interphone_panel.py" line="231"/>
        <source>Nobody is speaking</source>
        <translation>无人讲话</translation>
    </message>
    <message>
        <location filename="../../app/ui/interphone_panel.py" line="234"/>
        <source>This interphone is not active</source>
        <translation>此对讲未开启</translation>
    </message>
    <message>
        <location filename="../../app/ui/interphone_panel.py" line="237"/>
        <source>Last spoke: %1 at %2</source>
        <translation>上一位讲话者：%1（%2）</translation>
    </message>
    <message>
        <location filename="../../app/ui/interphone_panel.py" line="241"/>
        <source>Nobody has spoken yet</source>
        <translation>还没有人讲话</translation>
    </message>
    <message>
        <location filename="../../app/ui/interphone_panel.py" line="245"/>
        <source>1 member</source>
        <translation>1 人</translation>
    </message>
    <message>
        <location filename="../../app/ui/interphone_panel.py" line="246"/>
        <source>%1 members</source>
        <translation>%1 人</translation>
    </message>
    <message>
        <location filename="../../app/ui/interphone_panel.py" line="254"/>
        <source>Leave</source>
        <translation>离开</translation>
    </message>
    <message>
        <location filename="../../app/ui/interphone_panel.py" line="255"/>
        <source>Join this interphone</source>
        <translation>加入此对讲</translation>
    </message>
    <message>
        <location filename="../../app/ui/interphone_panel.py" line="256"/>
        <source>Leave this interphone</source>
        <translation>离开此对讲</translation>
    </message>
</context>
<context>
    <name>MainWindow</name>
    <message>
        <location filename="../../app/ui/main_window.py" line="221"/>
        <source>Incoming call</source>
        <translation>来电</translation>
    </message>
    <message>
        <location filename="../../app/ui/main_window.py" line="222"/>
        <location filename="../../app/ui/main_window.py" line="224"/>
        <source>%1 is calling you</source>
        <translation>%1 正在呼叫你</translation>
    </message>
    <message>
        <location filename="../../app/ui/main_window.py" line="257"/>
        <source>Interphone</source>
        <translation>实时对讲</translation>
    </message>
    <message>
        <location filename="../../app/ui/main_window.py" line="259"/>
        <source>You are speaking</source>
        <translation>你正在讲话</translation>
    </message>
    <message>
        <location filename="../../app/ui/main_window.py" line="260"/>
        <source>%1 is speaking</source>
        <translation>%1 正在讲话</translation>
    </message>
    <message>
        <location filename="../../app/ui/main_window.py" line="273"/>
        <source>Connecting…</source>
        <translation>正在连接…</translation>
    </message>
    <message>
        <location filename="../../app/ui/main_window.py" line="274"/>
        <source>Connected as %1</source>
        <translation>已连接：%1</translation>
    </message>
    <message>
        <location filename="../../app/ui/main_window.py" line="275"/>
        <source>Connection lost, reconnecting…</source>
        <translation>连接已断开，正在重连…</translation>
    </message>
    <message>
        <location filename="../../app/ui/main_window.py" line="276"/>
        <source>Offline</source>
        <translation>离线</translation>
    </message>
    <message>
        <location filename="../../app/ui/main_window.py" line="292"/>
        <source>Audio: simulated, no sound card</source>
        <translation>音频：模拟（无声卡）</translation>
    </message>
    <message>
        <location filename="../../app/ui/main_window.py" line="296"/>
        <source>Audio: %1</source>
        <translation>音频：%1</translation>
    </message>
    <message>
        <location filename="../../app/ui/main_window.py" line="355"/>
        <source>&amp;Interphone</source>
        <translation>对讲(&amp;I)</translation>
    </message>
    <message>
        <location filename="../../app/ui/main_window.py" line="356"/>
        <source>&amp;Settings…</source>
        <translation>设置(&amp;S)…</translation>
    </message>
    <message>
        <location filename="../../app/ui/main_window.py" line="357"/>
        <source>Sign &amp;out</source>
        <translation>退出登录(&amp;O)</translation>
    </message>
    <message>
        <location filename="../../app/ui/main_window.py" line="358"/>
        <source>&amp;Quit</source>
        <translation>退出(&amp;Q)</translation>
    </message>
    <message>
        <location filename="../../app/ui/main_window.py" line="360"/>
        <source>Show Interphone</source>
        <translation>显示实时对讲</translation>
    </message>
</context>
<context>
    <name>Presenter</name>
    <message>
        <location filename="../../app/ui/presenter.py" line="229"/>
        <source>The server ended your turn to talk.</source>
        <translation>服务器已结束你的讲话。</translation>
    </message>
    <message>
        <location filename="../../app/ui/presenter.py" line="370"/>
        <source>Request failed: %1</source>
        <translation>请求失败：%1</translation>
    </message>
    <message>
        <location filename="../../app/ui/presenter.py" line="377"/>
        <source>signed in elsewhere</source>
        <translation>已在别处登录</translation>
    </message>
    <message>
        <location filename="../../app/ui/presenter.py" line="379"/>
        <source>sign-in refused</source>
        <translation>登录被拒绝</translation>
    </message>
    <message>
        <location filename="../../app/ui/presenter.py" line="383"/>
        <source>attempt %1</source>
        <translation>第 %1 次尝试</translation>
    </message>
    <message>
        <location filename="../../app/ui/presenter.py" line="424"/>
        <source>You may not talk here</source>
        <translation>你无权在此讲话</translation>
    </message>
</context>
<context>
    <name>SettingsDialog</name>
    <message>
        <location filename="../../app/ui/settings_dialog.py" line="132"/>
        <location filename="../../app/ui/settings_dialog.py" line="195"/>
        <location filename="../../app/ui/settings_dialog.py" line="196"/>
        <location filename="../../app/ui/settings_dialog.py" line="206"/>
        <source>System default</source>
        <translation>系统默认</translation>
    </message>
    <message>
        <location filename="../../app/ui/settings_dialog.py" line="173"/>
        <location filename="../../app/ui/settings_dialog.py" line="211"/>
        <source>Stop the test</source>
        <translation>停止测试</translation>
    </message>
    <message>
        <location filename="../../app/ui/settings_dialog.py" line="173"/>
        <location filename="../../app/ui/settings_dialog.py" line="212"/>
        <source>Test the microphone</source>
        <translation>测试麦克风</translation>
    </message>
    <message>
        <location filename="../../app/ui/settings_dialog.py" line="184"/>
        <source>Interphone settings</source>
        <translation>对讲设置</translation>
    </message>
    <message>
        <location filename="../../app/ui/settings_dialog.py" line="185"/>
        <source>Audio</source>
        <translation>音频</translation>
    </message>
    <message>
        <location filename="../../app/ui/settings_dialog.py" line="186"/>
        <source>Talking</source>
        <translation>正在讲话</translation>
    </message>
    <message>
        <location filename="../../app/ui/settings_dialog.py" line="187"/>
        <source>Interface</source>
        <translation>界面</translation>
    </message>
    <message>
        <location filename="../../app/ui/settings_dialog.py" line="188"/>
        <source>&amp;Microphone:</source>
        <translation>麦克风(&amp;M)：</translation>
    </message>
    <message>
        <location filename="../../app/ui/settings_dialog.py" line="188"/>
        <source>&amp;Speaker:</source>
        <translation>扬声器(&amp;S)：</translation>
    </message>
    <message>
        <location filename="../../app/ui/settings_dialog.py" line="189"/>
        <source>Opus &amp;bitrate:</source>
        <translation>Opus 码率(&amp;B)：</translation>
    </message>
    <message>
        <location filename="../../app/ui/settings_dialog.py" line="189"/>
        <source>&amp;Frame duration:</source>
        <translation>帧长(&amp;F)：</translation>
    </message>
    <message>
        <location filename="../../app/ui/settings_dialog.py" line="190"/>
        <source>Talk &amp;key:</source>
        <translation>讲话键(&amp;K)：</translation>
    </message>
    <message>
        <location filename="../../app/ui/settings_dialog.py" line="190"/>
        <source>&amp;Release delay:</source>
        <translation>松开延迟(&amp;R)：</translation>
    </message>
    <message>
        <location filename="../../app/ui/settings_dialog.py" line="191"/>
        <source>&amp;Language:</source>
        <translation>语言(&amp;L)：</translation>
    </message>
    <message>
        <location filename="../../app/ui/settings_dialog.py" line="197"/>
        <source>Play &amp;tones (talk permit, busy, end, incoming call)</source>
        <translation>播放提示音(&amp;T)（允许讲话、占线、结束、来电）</translation>
    </message>
    <message>
        <location filename="../../app/ui/settings_dialog.py" line="198"/>
        <source>Microphone test</source>
        <translation>麦克风测试</translation>
    </message>
    <message>
        <location filename="../../app/ui/settings_dialog.py" line="200"/>
        <source>While the test runs you hear yourself; speak and watch the meter.</source>
        <translation>测试期间你会听到自己的声音；请说话并观察电平表。</translation>
    </message>
    <message>
        <location filename="../../app/ui/settings_dialog.py" line="202"/>
        <source> ms</source>
        <translation> 毫秒</translation>
    </message>
    <message>
        <location filename="../../app/ui/settings_dialog.py" line="204"/>
        <source>Hold the talk key while the Interphone window has focus. The release delay keeps sending a moment after you let go, so the last syllable is not cut.</source>
        <translation>在对讲窗口处于焦点时按住讲话键即可讲话。松开延迟会在你松开后继续发送片刻，避免最后一个字被截断。</translation>
    </message>
</context>
<context>
    <name>SignInDialog</name>
    <message>
        <location filename="../../app/ui/sign_in.py" line="146"/>
        <source>Connecting to %1…</source>
        <translation>正在连接 %1…</translation>
    </message>
    <message>
        <location filename="../../app/ui/sign_in.py" line="155"/>
        <source>Cannot reach the server at %1. Check the address and that the server is running.</source>
        <translation>无法连接服务器 %1。请检查地址，并确认服务器正在运行。</translation>
    </message>
    <message>
        <location filename="../../app/ui/sign_in.py" line="158"/>
        <source>The server refused the sign-in: wrong user name or token.</source>
        <translation>服务器拒绝登录：用户名或令牌错误。</translation>
    </message>
    <message>
        <location filename="../../app/ui/sign_in.py" line="160"/>
        <source>The server address must look like host:port, e.g. 127.0.0.1:9400.</source>
        <translation>服务器地址格式应为 主机:端口，例如 127.0.0.1:9400。</translation>
    </message>
    <message>
        <location filename="../../app/ui/sign_in.py" line="161"/>
        <source>Enter your user name and token.</source>
        <translation>请输入用户名和令牌。</translation>
    </message>
    <message>
        <location filename="../../app/ui/sign_in.py" line="162"/>
        <source>Signing in failed.</source>
        <translation>登录失败。</translation>
    </message>
    <message>
        <location filename="../../app/ui/sign_in.py" line="165"/>
        <source>Details: %1</source>
        <translation>详情：%1</translation>
    </message>
    <message>
        <location filename="../../app/ui/sign_in.py" line="175"/>
        <source>Sign in to Interphone</source>
        <translation>登录实时对讲</translation>
    </message>
    <message>
        <location filename="../../app/ui/sign_in.py" line="176"/>
        <source>Interphone</source>
        <translation>实时对讲</translation>
    </message>
    <message>
        <location filename="../../app/ui/sign_in.py" line="177"/>
        <source>&amp;Server:</source>
        <translation>服务器(&amp;S)：</translation>
    </message>
    <message>
        <location filename="../../app/ui/sign_in.py" line="177"/>
        <source>&amp;User:</source>
        <translation>用户(&amp;U)：</translation>
    </message>
    <message>
        <location filename="../../app/ui/sign_in.py" line="177"/>
        <source>&amp;Token:</source>
        <translation>令牌(&amp;T)：</translation>
    </message>
    <message>
        <location filename="../../app/ui/sign_in.py" line="180"/>
        <source>host:port, e.g. 127.0.0.1:9400</source>
        <translation>主机:端口，例如 127.0.0.1:9400</translation>
    </message>
    <message>
        <location filename="../../app/ui/sign_in.py" line="181"/>
        <source>your user name</source>
        <translation>你的用户名</translation>
    </message>
    <message>
        <location filename="../../app/ui/sign_in.py" line="182"/>
        <source>your password or token</source>
        <translation>你的密码或令牌</translation>
    </message>
    <message>
        <location filename="../../app/ui/sign_in.py" line="183"/>
        <source>&amp;Remember me on this computer</source>
        <translation>在此电脑上记住我(&amp;R)</translation>
    </message>
    <message>
        <location filename="../../app/ui/sign_in.py" line="184"/>
        <source>Sign &amp;in</source>
        <translation>登录(&amp;I)</translation>
    </message>
    <message>
        <location filename="../../app/ui/sign_in.py" line="185"/>
        <source>Cancel</source>
        <translation>取消</translation>
    </message>
</context>
<context>
    <name>TalkButton</name>
    <message>
        <location filename="../../app/ui/talk_button.py" line="96"/>
        <source>Hold to talk</source>
        <translation>按住讲话</translation>
    </message>
    <message>
        <location filename="../../app/ui/talk_button.py" line="96"/>
        <source>or hold %1</source>
        <translation>或按住 %1</translation>
    </message>
    <message>
        <location filename="../../app/ui/talk_button.py" line="98"/>
        <source>Requesting…</source>
        <translation>正在申请…</translation>
    </message>
    <message>
        <location filename="../../app/ui/talk_button.py" line="101"/>
        <location filename="../../app/ui/talk_button.py" line="103"/>
        <source>Talking</source>
        <translation>正在讲话</translation>
    </message>
    <message>
        <location filename="../../app/ui/talk_button.py" line="103"/>
        <source>%1 left</source>
        <translation>剩余 %1</translation>
    </message>
    <message>
        <location filename="../../app/ui/talk_button.py" line="105"/>
        <source>Busy</source>
        <translation>占线</translation>
    </message>
    <message>
        <location filename="../../app/ui/talk_button.py" line="105"/>
        <source>%1 is speaking</source>
        <translation>%1 正在讲话</translation>
    </message>
    <message>
        <location filename="../../app/ui/talk_button.py" line="108"/>
        <source>Denied</source>
        <translation>被拒绝</translation>
    </message>
    <message>
        <location filename="../../app/ui/talk_button.py" line="110"/>
        <source>Join to talk</source>
        <translation>加入后讲话</translation>
    </message>
    <message>
        <location filename="../../app/ui/talk_button.py" line="111"/>
        <source>Offline</source>
        <translation>离线</translation>
    </message>
    <message>
        <location filename="../../app/ui/talk_button.py" line="199"/>
        <source>Push to talk</source>
        <translation>按键讲话</translation>
    </message>
    <message>
        <location filename="../../app/ui/talk_button.py" line="201"/>
        <source>Press and hold to talk (or hold %1)</source>
        <translation>按住即可讲话（或按住 %1）</translation>
    </message>
</context>
</TS>
